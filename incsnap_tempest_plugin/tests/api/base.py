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
"""Base class of the incsnap API tests: snapshots and their properties."""

from oslo_serialization import jsonutils as json
from tempest.api.volume import base
from tempest.common import waiters
from tempest import config

CONF = config.CONF

PREFIX = 'incsnap:'
KIND = PREFIX + 'kind'
DEPTH = PREFIX + 'chain_depth'
PARENT = PREFIX + 'parent'
REASON = PREFIX + 'full_reason'


class IncsnapMixin(object):
    """Helpers shared by the user and the admin test classes."""

    @classmethod
    def skip_checks(cls):
        super(IncsnapMixin, cls).skip_checks()
        if not CONF.incsnap.enabled:
            raise cls.skipException('[incsnap] enabled is false: the '
                                    'volume type under test is not incsnap')
        if not CONF.volume_feature_enabled.snapshot:
            raise cls.skipException('Cinder volume snapshots are disabled')

    @classmethod
    def require_incremental(cls, min_delta_max=2):
        """Skip unless the backend makes chains of min_delta_max or more."""
        if not CONF.incsnap.kvm_incremental_snapshot:
            raise cls.skipException('[incsnap] kvm_incremental_snapshot is '
                                    'false: every snapshot is full')
        if CONF.incsnap.snapshot_delta_max < min_delta_max:
            raise cls.skipException(
                'needs [incsnap] snapshot_delta_max >= %d, it is %d'
                % (min_delta_max, CONF.incsnap.snapshot_delta_max))

    def snapshot(self, volume_id, **kwargs):
        """Create a snapshot, wait for it, return it as shown by the API."""
        snap = self.create_snapshot(volume_id, **kwargs)
        return self.snapshots_client.show_snapshot(snap['id'])['snapshot']

    def show_snapshot(self, snapshot_id):
        return self.snapshots_client.show_snapshot(snapshot_id)['snapshot']

    @staticmethod
    def properties(snapshot):
        """The driver's properties of a snapshot (incsnap:*)."""
        return {k: v for k, v in (snapshot.get('metadata') or {}).items()
                if k.startswith(PREFIX)}

    def assertFull(self, snapshot, reason):
        expected = {KIND: 'full', DEPTH: '1', REASON: reason}
        if not CONF.incsnap.kvm_incremental_snapshot and reason == 'first':
            expected[REASON] = 'disabled'
        self.assertEqual(expected, self.properties(snapshot),
                         'snapshot %s: %s' % (snapshot['id'], snapshot))

    def assertIncremental(self, snapshot, parent, depth):
        self.assertEqual({KIND: 'incremental', DEPTH: str(depth),
                          PARENT: parent['id']},
                         self.properties(snapshot),
                         'snapshot %s: %s' % (snapshot['id'], snapshot))

    def revert(self, volume_id, snapshot_id):
        """Revert a volume to a snapshot (volume API >= 3.40)."""
        body = json.dumps({'revert': {'snapshot_id': snapshot_id}})
        resp, _body = self.volumes_client.post(
            'volumes/%s/action' % volume_id, body)
        self.assertEqual(202, resp.status)
        waiters.wait_for_volume_resource_status(self.volumes_client,
                                                volume_id, 'available')
        waiters.wait_for_volume_resource_status(self.snapshots_client,
                                                snapshot_id, 'available')


class IncsnapBaseTest(IncsnapMixin, base.BaseVolumeTest):
    """Tests as a cloud user: properties are all they can see."""


class IncsnapBaseAdminTest(IncsnapMixin, base.BaseVolumeAdminTest):
    """Tests that also look at the backend as an admin."""
