#!/usr/bin/env python3
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.
"""Attach a volume the way Nova does, without Nova: Cinder's attachments API.

Run with the stack's Python (openstacksdk) and the admin cloud in
OS_CLOUD / OS_CLIENT_CONFIG_FILE.  ``openstack volume attachment create``
cannot be used here: it looks the server up in Nova, which this stack
does not have.

    aio-attach.py attach VOLUME_ID INSTANCE_UUID [--host HOST]
        create an attachment with a connector (microversion 3.54), then
        complete it (3.44): the volume becomes in-use.  Prints JSON:
        {"attachment_id": ..., "connection_info": {...}}
    aio-attach.py detach ATTACHMENT_ID --secrets AIO_DIR/secrets
        delete the attachment (3.27): the volume becomes available.  Like
        Nova, it sends a service token (user cinder, role service): Cinder
        refuses a user's delete of an attachment connected to an instance
        (bug 2004555) and would ask Nova, which this stack does not have.
"""

import argparse
import json
import socket
import sys

from keystoneauth1.identity import v3
from keystoneauth1 import session
import openstack
import openstack.config


def connector(host):
    # What os-brick's get_connector_properties returns for NFS on a
    # compute host: no initiator, no multipath.
    return {'host': host, 'ip': '127.0.0.1', 'platform': 'x86_64',
            'os_type': 'linux', 'multipath': False, 'initiator': None,
            'mountpoint': '/dev/vda'}


def check(resp, what):
    if resp.status_code >= 400:
        sys.exit('%s: HTTP %d %s' % (what, resp.status_code, resp.text))
    return resp


def attach(conn, volume_id, instance_uuid, host):
    bs = conn.block_storage
    body = {'attachment': {'volume_uuid': volume_id,
                           'instance_uuid': instance_uuid,
                           'connector': connector(host), 'mode': 'rw'}}
    att = check(bs.post('/attachments', json=body, microversion='3.54'),
                'attachment create')
    att = att.json()['attachment']
    check(bs.post('/attachments/%s/action' % att['id'],
                  json={'os-complete': None}, microversion='3.44'),
          'attachment complete')
    return {'attachment_id': att['id'],
            'connection_info': att['connection_info']}


def service_token(secrets):
    """A token of the service user cinder, the password from ``secrets``."""
    with open(secrets) as f:
        values = dict(line.strip().split('=', 1) for line in f if '=' in line)
    auth = openstack.config.get_cloud_region().config['auth']
    svc = v3.Password(
        auth_url=auth['auth_url'], username='cinder',
        password=values['CINDER_PASSWORD'], project_name='service',
        user_domain_name='Default', project_domain_name='Default')
    return session.Session(auth=svc).get_token()


def detach(conn, attachment_id, secrets):
    check(conn.block_storage.delete(
        '/attachments/%s' % attachment_id, microversion='3.27',
        headers={'X-Service-Token': service_token(secrets)}),
        'attachment delete')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('attach')
    p.add_argument('volume_id')
    p.add_argument('instance_uuid')
    p.add_argument('--host', default=socket.gethostname())
    p = sub.add_parser('detach')
    p.add_argument('attachment_id')
    p.add_argument('--secrets', required=True,
                   help="the stack's secrets file (CINDER_PASSWORD=...)")
    args = parser.parse_args()
    conn = openstack.connect()
    if args.cmd == 'attach':
        print(json.dumps(attach(conn, args.volume_id, args.instance_uuid,
                                args.host)))
    else:
        detach(conn, args.attachment_id, args.secrets)


if __name__ == '__main__':
    main()
