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
"""What a cloud user sees of incsnap's incremental snapshots.

Every snapshot carries the driver's properties (its metadata):
``incsnap:kind`` (full or incremental), ``incsnap:chain_depth``,
``incsnap:parent`` (incrementals) and ``incsnap:full_reason`` (fulls).
"""

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from incsnap_tempest_plugin.tests.api import base

CONF = config.CONF


class SnapshotChainTest(base.IncsnapBaseTest):
    """Properties of full and incremental snapshots, and delete orders."""

    @decorators.idempotent_id('dd9f9524-6318-4132-9ec8-13fae5e3011b')
    def test_first_full_then_incremental(self):
        self.require_incremental()
        volume = self.create_volume()
        first = self.snapshot(volume['id'])
        self.assertFull(first, 'first')
        second = self.snapshot(volume['id'])
        self.assertIncremental(second, parent=first, depth=2)
        # Both stay plain Cinder snapshots of the volume.
        for snap in (first, second):
            self.assertEqual(volume['id'], snap['volume_id'])
            self.assertEqual(volume['size'], snap['size'])
            self.assertEqual('available', snap['status'])

    @decorators.idempotent_id('c489f90f-36cd-4768-a681-3ab55dbd5a4a')
    def test_delta_max_sequence(self):
        """1 full + (delta max - 1) incrementals, then a full again.

        With snapshot_delta_max = 3: full, inc, inc, full, inc.
        """
        delta_max = CONF.incsnap.snapshot_delta_max
        if delta_max > CONF.incsnap.delta_max_sequence_limit:
            raise self.skipException(
                'snapshot_delta_max %d > [incsnap] '
                'delta_max_sequence_limit %d'
                % (delta_max, CONF.incsnap.delta_max_sequence_limit))
        self.require_incremental()
        volume = self.create_volume()
        snaps = []
        for i in range(delta_max + 2):
            snap = self.snapshot(volume['id'])
            if i == 0:
                self.assertFull(snap, 'first')
            elif i == delta_max:
                self.assertFull(snap, 'delta_max')
            else:
                self.assertIncremental(snap, parent=snaps[-1],
                                       depth=i % delta_max + 1)
            snaps.append(snap)
        kinds = [s['metadata'][base.KIND] for s in snaps]
        self.assertEqual((['full'] + ['incremental'] * (delta_max - 1)
                          + ['full', 'incremental']), kinds)

    @decorators.idempotent_id('58fa2277-4116-4f26-83f5-da9017c891e6')
    def test_user_metadata_kept(self):
        """The user's metadata stays; the driver owns the incsnap: keys."""
        self.require_incremental()
        volume = self.create_volume()
        mine = {'owner': 'tempest', 'purpose': 'before upgrade'}
        first = self.snapshot(volume['id'], metadata=mine)
        self.assertFull(first, 'first')
        for key, value in mine.items():
            self.assertEqual(value, first['metadata'].get(key), first)
        # A user cannot make the driver's properties lie.
        second = self.snapshot(volume['id'], metadata={
            'owner': 'tempest', base.KIND: 'full', base.DEPTH: '7'})
        self.assertIncremental(second, parent=first, depth=2)
        self.assertEqual('tempest', second['metadata'].get('owner'), second)
        # The API's metadata calls see the same.
        listed = self.snapshots_client.show_snapshot_metadata(
            first['id'])['metadata']
        self.assertEqual(first['metadata'], listed)

    @decorators.idempotent_id('107f78bf-e592-430a-9868-81d92df20395')
    def test_delete_parent_then_child(self):
        """A parent deleted while its child exists; then the child."""
        self.require_incremental(min_delta_max=3)
        volume = self.create_volume()
        parent = self.snapshot(volume['id'])
        child = self.snapshot(volume['id'])
        self.assertIncremental(child, parent=parent, depth=2)

        # The parent goes from the API at once (the driver keeps its data
        # for the child, out of sight).
        self.delete_snapshot(parent['id'])
        self.assertRaises(lib_exc.NotFound,
                          self.snapshots_client.show_snapshot, parent['id'])
        ids = [s['id'] for s in self.snapshots_client.list_snapshots(
            volume_id=volume['id'])['snapshots']]
        self.assertNotIn(parent['id'], ids)
        # The child is untouched and usable.
        shown = self.show_snapshot(child['id'])
        self.assertEqual('available', shown['status'])
        self.assertEqual(child['metadata'], shown['metadata'])
        from_child = self.create_volume(snapshot_id=child['id'])
        self.assertEqual(child['id'], from_child['snapshot_id'])
        self.assertEqual(volume['size'], from_child['size'])
        # The chain goes on from the child.
        third = self.snapshot(volume['id'])
        self.assertIncremental(third, parent=child, depth=3)

        # Then the rest; the volumes stay available.
        self.delete_snapshot(third['id'])
        self.delete_snapshot(child['id'])
        for vol in (volume, from_child):
            self.assertEqual('available', self.volumes_client.show_volume(
                vol['id'])['volume']['status'])
        # With every snapshot gone the next one starts a new chain.
        self.assertFull(self.snapshot(volume['id']), 'first')

    @decorators.idempotent_id('e025779a-b0aa-4e75-b633-e33f91e928d5')
    def test_delete_newest_then_snapshot_is_full(self):
        """The newest snapshot was the base of the changes: a full next."""
        self.require_incremental()
        volume = self.create_volume()
        first = self.snapshot(volume['id'])
        second = self.snapshot(volume['id'])
        self.assertIncremental(second, parent=first, depth=2)
        self.delete_snapshot(second['id'])
        self.assertEqual('available', self.show_snapshot(
            first['id'])['status'])
        self.assertFull(self.snapshot(volume['id']), 'parent_deleted')

    @decorators.idempotent_id('c14dbf4d-3886-4c84-9f4e-11669af03acd')
    def test_volume_from_snapshot_has_its_own_chain(self):
        """A volume from an incremental starts a chain of its own."""
        self.require_incremental(min_delta_max=3)
        volume = self.create_volume()
        first = self.snapshot(volume['id'])
        second = self.snapshot(volume['id'])
        self.assertIncremental(second, parent=first, depth=2)
        size = volume['size'] + CONF.volume.volume_size_extend
        copy = self.create_volume(snapshot_id=second['id'], size=size)
        self.assertEqual(size, copy['size'])
        self.assertFull(self.snapshot(copy['id']), 'first')
        # The source volume's chain is not disturbed.
        self.assertIncremental(self.snapshot(volume['id']), parent=second,
                               depth=3)


class SnapshotRevertTest(base.IncsnapBaseTest):
    """Revert to the newest snapshot keeps the chain incremental."""

    volume_min_microversion = '3.40'
    volume_max_microversion = 'latest'

    @classmethod
    def skip_checks(cls):
        super(SnapshotRevertTest, cls).skip_checks()
        if not getattr(CONF.volume_feature_enabled, 'volume_revert', True):
            raise cls.skipException('[volume-feature-enabled] '
                                    'volume_revert is false')

    @decorators.idempotent_id('994eea1a-2c25-444f-b824-f661c14a02d9')
    def test_revert_then_snapshot_is_incremental(self):
        self.require_incremental(min_delta_max=3)
        volume = self.create_volume()
        first = self.snapshot(volume['id'])
        second = self.snapshot(volume['id'])
        self.assertIncremental(second, parent=first, depth=2)
        self.revert(volume['id'], second['id'])
        after = self.snapshot(volume['id'])
        self.assertIncremental(after, parent=second, depth=3)
        # Reverting changed no snapshot.
        for snap in (first, second):
            shown = self.show_snapshot(snap['id'])
            self.assertEqual('available', shown['status'])
            self.assertEqual(snap['metadata'], shown['metadata'])

    @decorators.idempotent_id('37d01b80-acb0-4dcb-89ec-7983b88b97f8')
    def test_revert_to_first_then_snapshot_is_incremental(self):
        self.require_incremental()
        volume = self.create_volume()
        first = self.snapshot(volume['id'])
        self.revert(volume['id'], first['id'])
        self.assertEqual(volume['size'], self.volumes_client.show_volume(
            volume['id'])['volume']['size'])
        self.assertIncremental(self.snapshot(volume['id']), parent=first,
                               depth=2)


class BackendCapabilitiesTest(base.IncsnapBaseAdminTest):
    """The pool of an incsnap volume reports what [incsnap] expects."""

    @decorators.idempotent_id('1e3d93c4-9975-4eef-9e6b-d7bee2abfa58')
    def test_pool_reports_incremental_snapshots(self):
        volume = self.create_volume()
        host = self.admin_volume_client.show_volume(
            volume['id'])['volume']['os-vol-host-attr:host']
        pools = self.admin_scheduler_stats_client.list_pools(
            detail=True)['pools']
        caps = {p['name']: p['capabilities'] for p in pools}
        self.assertIn(host, caps)
        caps = caps[host]
        self.assertEqual(CONF.volume.storage_protocol,
                         caps.get('storage_protocol'))
        self.assertEqual(CONF.incsnap.kvm_incremental_snapshot,
                         caps.get('incremental_snapshots'), caps)
        self.assertEqual(CONF.incsnap.snapshot_delta_max,
                         caps.get('snapshot_delta_max'), caps)
