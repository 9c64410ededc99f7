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
"""Cloud resources of the all-in-one stack, made idempotently.

Called by ``tools/aio up`` with the admin cloud in OS_CLOUD /
OS_CLIENT_CONFIG_FILE.  One Python process with openstacksdk instead of a
dozen ``openstack`` CLI calls (each costs about 1.5 s of start-up).

    aio-setup.py identity --cinder-password PW --volume-url URL
        project "service", user "cinder" (admin + service roles there),
        service "cinderv3" (volumev3) with public/internal/admin endpoints
    aio-setup.py volume --backend NAME --host HOST [--cluster CLUSTER]
                        [--wait SECONDS]
        waits until cinder-scheduler and cinder-volume HOST@NAME report
        "up" and the scheduler lists a pool of HOST@NAME (of
        CLUSTER@NAME: a cluster's nodes report the cluster's pools), then
        makes the volume type NAME bound to the backend of that name
    aio-setup.py demo-user --name NAME --project PROJECT --password PW
        project PROJECT and user NAME, a member there: the cloud user who
        logs into the dashboard
"""

import argparse
import sys
import time

import openstack

DOMAIN = 'default'
REGION = 'RegionOne'


def log(msg):
    print('[aio-setup] %s' % msg, flush=True)


def ensure_identity(conn, cinder_password, volume_url):
    ident = conn.identity
    project = ident.find_project('service', domain_id=DOMAIN)
    if project is None:
        project = ident.create_project(name='service', domain_id=DOMAIN,
                                       description='Service users')
        log('created project service')
    user = ident.find_user('cinder', domain_id=DOMAIN)
    if user is None:
        user = ident.create_user(name='cinder', domain_id=DOMAIN,
                                 password=cinder_password,
                                 default_project_id=project.id)
        log('created user cinder')
    else:
        # The password lives in .aio/secrets; keep Keystone in step.
        ident.update_user(user, password=cinder_password)
    for role_name in ('admin', 'service'):
        role = ident.find_role(role_name)
        if role is None:
            role = ident.create_role(name=role_name)
            log('created role %s' % role_name)
        if not ident.validate_user_has_project_role(project, user, role):
            ident.assign_project_role_to_user(project, user, role)
            log('gave cinder the role %s in project service' % role_name)

    service = ident.find_service('cinderv3')
    if service is None:
        service = ident.create_service(name='cinderv3', type='volumev3',
                                       description='Cinder Volume Service V3')
        log('created service cinderv3 (volumev3)')
    have = {e.interface: e for e in ident.endpoints(service_id=service.id)}
    for interface in ('public', 'internal', 'admin'):
        ep = have.get(interface)
        if ep is None:
            ident.create_endpoint(service_id=service.id, interface=interface,
                                  url=volume_url, region_id=REGION)
            log('created %s endpoint %s' % (interface, volume_url))
        elif ep.url != volume_url:
            ident.update_endpoint(ep, url=volume_url)
            log('updated %s endpoint to %s' % (interface, volume_url))


def wait_services(conn, backend_host, deadline, pool_host=None):
    """Wait until the scheduler and the backend are up and in service.

    A service row says "up" as soon as the process registered, even when
    its driver then fails to start; a pool of the backend in the
    scheduler's list shows that the driver started and reported stats.
    ``pool_host``: the ``cluster@backend`` whose pools the backend's
    service reports (a node of a cluster), default ``backend_host``.
    """
    pool_host = pool_host or backend_host
    want = {'cinder-scheduler', 'cinder-volume'}
    while True:
        err = None
        services, pools = [], []
        try:
            services = list(conn.block_storage.services())
            pools = [p.name for p in conn.block_storage.backend_pools()]
        except Exception as exc:  # API not answering yet
            err = exc
        up = {s.binary for s in services
              if s.binary in want and s.state == 'up'
              and s.status == 'enabled'
              and (s.binary != 'cinder-volume' or s.host == backend_host)}
        ours = [p for p in pools if p.startswith(pool_host + '#')]
        if up == want and ours:
            log('services up, pools %s' % ours)
            return
        if time.monotonic() > deadline:
            sys.exit('[aio-setup] backend %s not in service in time: '
                     'services %s, pools %s%s'
                     % (backend_host,
                        [(s.binary, s.host, s.state) for s in services],
                        pools, ' (last error: %s)' % err if err else ''))
        time.sleep(1)


def ensure_volume_type(conn, backend):
    bs = conn.block_storage
    vtype = bs.find_type(backend)
    if vtype is None:
        bs.create_type(name=backend, is_public=True,
                       description='incsnap backend (%s)' % backend,
                       extra_specs={'volume_backend_name': backend})
        log('created volume type %s' % backend)
    elif (vtype.extra_specs or {}).get('volume_backend_name') != backend:
        bs.update_type_extra_specs(vtype, volume_backend_name=backend)
        log('bound volume type %s to backend %s' % (backend, backend))


def ensure_demo_user(conn, name, project_name, password):
    ident = conn.identity
    project = ident.find_project(project_name, domain_id=DOMAIN)
    if project is None:
        project = ident.create_project(name=project_name, domain_id=DOMAIN,
                                       description='The demo user\'s')
        log('created project %s' % project_name)
    user = ident.find_user(name, domain_id=DOMAIN)
    if user is None:
        user = ident.create_user(name=name, domain_id=DOMAIN,
                                 password=password,
                                 default_project_id=project.id)
        log('created user %s' % name)
    else:
        ident.update_user(user, password=password)
    role = ident.find_role('member')
    if role is None:
        role = ident.create_role(name='member')
        log('created role member')
    if not ident.validate_user_has_project_role(project, user, role):
        ident.assign_project_role_to_user(project, user, role)
        log('gave %s the role member in project %s' % (name, project_name))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('identity')
    p.add_argument('--cinder-password', required=True)
    p.add_argument('--volume-url', required=True)
    p = sub.add_parser('volume')
    p.add_argument('--backend', required=True)
    p.add_argument('--host', required=True,
                   help='the [DEFAULT] host of cinder-volume')
    p.add_argument('--cluster',
                   help='the [DEFAULT] cluster of cinder-volume, if any')
    p.add_argument('--wait', type=float, default=120)
    p = sub.add_parser('demo-user')
    p.add_argument('--name', required=True)
    p.add_argument('--project', required=True)
    p.add_argument('--password', required=True)
    args = parser.parse_args()

    conn = openstack.connect()
    if args.cmd == 'identity':
        ensure_identity(conn, args.cinder_password, args.volume_url)
    elif args.cmd == 'demo-user':
        ensure_demo_user(conn, args.name, args.project, args.password)
    else:
        wait_services(conn, '%s@%s' % (args.host, args.backend),
                      time.monotonic() + args.wait,
                      pool_host='%s@%s' % (args.cluster, args.backend)
                      if args.cluster else None)
        ensure_volume_type(conn, args.backend)


if __name__ == '__main__':
    main()
