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
"""Several shares behind one backend: one pool each, moves between them.

Two shares (two bind-mounted exports, standing in for two NFS mounts as
everywhere in these tests). Cinder's scheduler is not running here: the
pool it would choose is given in the volume's host, as the volume manager
receives it; ``migrate_volume`` is called as the manager calls it, with
the destination host the API was given.
"""

import os

from cinder import exception

from tests.common import commands
from tests.functional import base

MiB = base.MiB
GiB = base.GiB


class TestSharesArePools(base.FunctionalTestCase):

    extra_shares = 1

    def setUp(self):
        super().setUp()
        (self.share_b, self.export_b), = self.more_shares
        self.host = 'incsnap-test@%s' % self.backend

    def files_of(self, export):
        found = []
        for dirpath, _dirs, files in os.walk(export):
            for name in files:
                found.append(os.path.relpath(os.path.join(dirpath, name),
                                             export))
        return sorted(found)

    def stats_by_pool(self):
        stats = self.driver.get_volume_stats(refresh=True)
        # The backend's totals are the pools' sums.
        for key in ('total_capacity_gb', 'free_capacity_gb',
                    'provisioned_capacity_gb'):
            self.assertAlmostEqual(
                sum(p[key] for p in stats['pools']), stats[key], delta=0.02)
        self.assertEqual(self.backend, stats['volume_backend_name'])
        return {p['pool_name']: p for p in stats['pools']}

    def test_each_share_is_a_pool(self):
        pools = self.stats_by_pool()
        self.assertEqual({self.share, self.share_b}, set(pools))
        for pool in pools.values():
            # The scheduler filters on a pool's own capabilities.
            self.assertTrue(pool['incremental_snapshots'])
            self.assertEqual(3, pool['snapshot_delta_max'])
            self.assertTrue(pool['thin_provisioning_support'])
            self.assertGreater(pool['total_capacity_gb'], 0)
        before = pools[self.share_b]['provisioned_capacity_gb']
        volume = self.create_volume(size=1, pool=self.share_b)
        self.write(volume, 0, 256 * MiB, 0x11)
        pools = self.stats_by_pool()
        # Capacity per share: what was written counts on B only.
        self.assertGreaterEqual(
            pools[self.share_b]['provisioned_capacity_gb'] - before, 0.24)
        self.assertLess(pools[self.share]['provisioned_capacity_gb'], 0.01)

    def test_volume_and_its_snapshots_stay_on_its_pool(self):
        volume = self.create_volume(size=1, pool=self.share_b)
        self.assertEqual(self.share_b, volume.provider_location)
        self.assertEqual(self.share_b, self.driver.get_pool(volume))
        self.write(volume, 0, 4 * MiB, 0x21)
        snap1 = self.create_snapshot(volume)
        self.write(volume, 8 * MiB, 2 * MiB, 0x22)
        snap2 = self.create_snapshot(volume)
        self.assertEqual('incremental', snap2.metadata['incsnap:kind'])
        name = 'volume-%s' % volume.id
        self.assertEqual(
            sorted([name, name + '.incsnap/chain.json',
                    name + '.incsnap/snapshot-%s.qcow2' % snap1.id,
                    name + '.incsnap/snapshot-%s.qcow2' % snap2.id]),
            self.files_of(self.export_b))
        self.assertEqual([], self.files_of(self.export))
        # A volume from a snapshot, placed by the scheduler on pool A.
        copy = self.volume_record(volume, snapshot_id=snap1.id)
        copy.host = '%s#%s' % (self.host, self.share)
        update = self.driver.create_volume_from_snapshot(copy, snap1)
        self.assertEqual(self.share, update['provider_location'])
        copy.update(update)
        copy.save()
        self.addCleanup(self._delete_volume_quietly, copy)
        self.assertSameContent(self.snap_path(volume, snap1),
                               self.volume_path(copy))
        self.assertEqual(['volume-%s' % copy.id], self.files_of(self.export))

    def test_host_without_a_pool_of_ours_gets_a_share(self):
        # A volume of a host named before the shares were pools.
        volume = self.create_volume(size=1, pool='incsnap')
        self.assertIn(volume.provider_location, (self.share, self.share_b))
        self.assertTrue(os.path.exists(self.volume_path(volume)))

    def test_share_too_small_for_the_volume_is_refused(self):
        self.assertRaises(exception.NfsNoSuitableShareFound,
                          self.create_volume, size=10 ** 6,
                          pool=self.share_b)
        self.assertEqual([], self.files_of(self.export_b))

    def migrate(self, volume, pool):
        moved, update = self.driver.migrate_volume(
            self.ctx, volume, {'host': '%s#%s' % (self.host, pool)})
        if moved:
            # As the volume manager saves it.
            volume.host = '%s#%s' % (self.host, pool)
            volume.update(update or {})
            volume.save()
        return moved, update

    def test_move_keeps_content_and_bitmaps(self):
        volume = self.create_volume(size=1, pool=self.share)
        self.write(volume, 0, 8 * MiB, 0x31)
        self.write(volume, 600 * MiB, 4 * MiB, 0x32)
        snap = self.create_snapshot(volume)
        self.delete_snapshot(snap)
        # A bitmap of the volume's own (standing in for one a backup
        # chain would keep): the move must not drop it.
        commands.run('qemu-img', 'bitmap', '--add', self.volume_path(volume),
                     'kept-across-move')
        ref = self.reference(volume, 'before-move')
        source = self.volume_path(volume)

        moved, update = self.migrate(volume, self.share_b)

        self.assertTrue(moved)
        self.assertEqual({'provider_location': self.share_b}, update)
        self.assertEqual([], self.files_of(self.export))
        self.assertFalse(os.path.exists(source))
        self.assertEqual(['volume-%s' % volume.id],
                         self.files_of(self.export_b))
        self.assertSameContent(ref, self.volume_path(volume))
        self.assertIn('kept-across-move', self.bitmap_names(volume))
        info = self.image_info(self.volume_path(volume))
        self.assertEqual(GiB, info['virtual-size'])
        self.assertNotIn('backing-filename', info)
        # The next snapshot: full (the volume has none to follow), then
        # incremental again, both on the new share and correct.
        snap1 = self.create_snapshot(volume)
        self.assertEqual('full', snap1.metadata['incsnap:kind'])
        self.assertSameContent(ref, self.snap_path(volume, snap1))
        self.write(volume, 64 * MiB, MiB, 0x33)
        ref2 = self.reference(volume, 'after-move')
        snap2 = self.create_snapshot(volume)
        self.assertEqual('incremental', snap2.metadata['incsnap:kind'])
        self.assertSameContent(ref2, self.snap_path(volume, snap2))
        self.assertTrue(self.snap_path(volume, snap2).startswith(
            self.driver._get_mount_point_for_share(self.share_b)))

    def test_volume_with_snapshots_is_not_moved(self):
        # Cinder's API refuses this first (the e2e test shows the 400);
        # the driver refuses it too, changing nothing.
        volume = self.create_volume(size=1, pool=self.share)
        self.write(volume, 0, 4 * MiB, 0x41)
        snap = self.create_snapshot(volume)
        before = self.files_of(self.export)
        ref = self.reference(volume, 'kept')
        err = self.assertRaises(exception.VolumeBackendAPIException,
                                self.migrate, volume, self.share_b)
        self.assertIn(volume.id, str(err))
        self.assertIn('snapshot', str(err))
        self.assertEqual(before, self.files_of(self.export))
        self.assertEqual([], self.files_of(self.export_b))
        self.assertSameContent(ref, self.volume_path(volume))
        self.assertSameContent(ref, self.snap_path(volume, snap))

    def test_destination_file_in_the_way_is_refused(self):
        volume = self.create_volume(size=1, pool=self.share)
        self.write(volume, 0, 4 * MiB, 0x51)
        ref = self.reference(volume, 'kept')
        stray = os.path.join(self.export_b, 'volume-%s' % volume.id)
        with open(stray, 'w') as f:
            f.write('not ours')
        err = self.assertRaises(exception.VolumeBackendAPIException,
                                self.migrate, volume, self.share_b)
        self.assertIn('exists already', str(err))
        with open(stray) as f:
            self.assertEqual('not ours', f.read())
        self.assertSameContent(ref, self.volume_path(volume))

    def test_declined_moves_change_nothing(self):
        volume = self.create_volume(size=1, pool=self.share)
        self.write(volume, 0, MiB, 0x61)
        ref = self.reference(volume, 'kept')
        for dest in ('other-node@%s#%s' % (self.backend, self.share_b),
                     '%s#127.0.0.1:/srv/nowhere' % self.host,
                     '%s#%s' % (self.host, self.share)):
            self.assertEqual(
                (False, None),
                self.driver.migrate_volume(self.ctx, volume, {'host': dest}))
        volume.attach_status = 'attached'
        self.assertEqual((False, None), self.driver.migrate_volume(
            self.ctx, volume, {'host': '%s#%s' % (self.host, self.share_b)}))
        self.assertEqual(['volume-%s' % volume.id],
                         self.files_of(self.export))
        self.assertEqual([], self.files_of(self.export_b))
        self.assertSameContent(ref, self.volume_path(volume))
