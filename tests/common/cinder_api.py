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
"""Cinder's block-storage API v3 over HTTP, as the stack's admin.

A small client for what the cluster tests and ``tools/bench-cluster``
send many of at once (a CLI call costs a second and a half of start-up):
snapshots created, deleted and reverted to, volumes from snapshots, the
workers clean-up, statuses polled. keystoneauth1 (a dependency of Cinder
itself, so in every environment that runs the tests) makes the session
from the stack's ``clouds.yaml``; one :class:`Client` per thread.
"""

import time

from keystoneauth1 import identity
from keystoneauth1 import session as ks_session
import yaml

# Revert (3.40) and everything older; the clean-up needs 3.24.
MICROVERSION = '3.40'
FAILED = {'error', 'error_deleting', 'error_restoring', 'error_extending'}


class APIError(Exception):
    """A request Cinder refused: the status and its message."""


def credentials(clouds_yaml, cloud='incsnap-aio'):
    with open(clouds_yaml) as f:
        return yaml.safe_load(f)['clouds'][cloud]['auth']


class Client:
    """One keystoneauth session on the volume endpoint."""

    def __init__(self, auth, microversion=MICROVERSION):
        self.session = ks_session.Session(auth=identity.Password(**auth))
        self.microversion = microversion

    def call(self, method, path, body=None, ok=(200, 202, 204)):
        resp = self.session.request(
            path, method, json=body, raise_exc=False,
            endpoint_filter={'service_type': 'volumev3',
                             'interface': 'public'},
            headers={'OpenStack-API-Version':
                     'volume %s' % self.microversion})
        if resp.status_code not in ok:
            raise APIError('%s %s: %d %s' % (method, path, resp.status_code,
                                             resp.text[:500]))
        return resp.json() if resp.content else None

    # -- resources -----------------------------------------------------------

    def create_snapshot(self, volume_id, name):
        return self.call('POST', '/snapshots', {'snapshot': {
            'volume_id': volume_id, 'name': name}})['snapshot']['id']

    def delete_snapshot(self, snapshot_id):
        self.call('DELETE', '/snapshots/%s' % snapshot_id)

    def snapshot(self, snapshot_id):
        """The snapshot's record; None when it is gone."""
        try:
            return self.call('GET', '/snapshots/%s' % snapshot_id)[
                'snapshot']
        except APIError as exc:
            if ': 404 ' in str(exc):
                return None
            raise

    def volume(self, volume_id):
        try:
            return self.call('GET', '/volumes/%s' % volume_id)['volume']
        except APIError as exc:
            if ': 404 ' in str(exc):
                return None
            raise

    def revert(self, volume_id, snapshot_id):
        self.call('POST', '/volumes/%s/action' % volume_id,
                  {'revert': {'snapshot_id': snapshot_id}})

    def volume_from_snapshot(self, snapshot_id, size_gb, name):
        return self.call('POST', '/volumes', {'volume': {
            'snapshot_id': snapshot_id, 'size': size_gb,
            'name': name}})['volume']['id']

    def delete_volume(self, volume_id):
        self.call('DELETE', '/volumes/%s' % volume_id)

    def workers_cleanup(self, **filters):
        """POST /workers/cleanup (3.24): (cleaning, unavailable) services."""
        saved, self.microversion = self.microversion, '3.24'
        try:
            out = self.call('POST', '/workers/cleanup', filters)
        finally:
            self.microversion = saved
        return out.get('cleaning', []), out.get('unavailable', [])

    # -- waiting -----------------------------------------------------------

    def wait(self, kind, ident, want, timeout, poll=0.5):
        """Poll until ``kind`` (snapshot/volume) is ``want`` (None: gone).

        The statuses seen, in order; AssertionError on an error status
        or after ``timeout``.
        """
        get = self.snapshot if kind == 'snapshot' else self.volume
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            record = get(ident)
            status = record['status'] if record else None
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == want:
                return seen
            if status in FAILED:
                raise AssertionError('%s %s went to %s (seen: %s)'
                                     % (kind, ident, status, seen))
            if time.monotonic() > deadline:
                raise AssertionError('%s %s not %s after %ss (seen: %s)'
                                     % (kind, ident, want, timeout, seen))
            time.sleep(poll)
