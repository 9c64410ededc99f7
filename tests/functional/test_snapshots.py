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
"""Snapshots of detached volumes: the real driver, real QEMU tools."""

import json
import os

from tests.functional import base

MiB = base.MiB


class TestVolumeFiles(base.FunctionalTestCase):

    def test_volume_is_qcow2_v3_of_requested_size(self):
        volume = self.create_volume(size=2)
        info = self.image_info(self.volume_path(volume))
        self.assertEqual('qcow2', info['format'])
        self.assertEqual('1.1', info['format-specific']['data']['compat'])
        self.assertEqual(2 * base.GiB, info['virtual-size'])
        self.assertIsNone(info.get('backing-filename'))
        self.assertEqual('qcow2', volume.admin_metadata['format'])

    def test_delete_volume_removes_every_file(self):
        volume = self.create_volume()
        self.write(volume, 0, MiB, 0x11)
        s1 = self.create_snapshot(volume)
        self.write(volume, 0, MiB, 0x12)
        self.create_snapshot(volume)
        # s1 becomes hidden: its file stays because s2 depends on it.
        self.delete_snapshot(s1)
        self.assertEqual(3, len(self.files_in(self.snap_dir(volume))))
        self.driver.delete_volume(volume)
        self.assertEqual([], self.share_files())


class TestReferenceSequence(base.FunctionalTestCase):
    """CloudStack's reference sequence with snapshot_delta_max = 3."""

    def test_full_inc_inc_full_inc(self):
        volume = self.create_volume()
        snaps, refs = [], []
        for step in range(5):
            # Each step rewrites 2 MiB somewhere new and 1 MiB it wrote
            # before, and zeroes 1 MiB (zero writes must reach snapshots).
            self.write(volume, step * 8 * MiB, 2 * MiB, 0x20 + step)
            self.write(volume, 0, MiB, 0x40 + step)
            if step:
                self.write_zeroes(volume, (step - 1) * 8 * MiB, MiB)
            refs.append(self.reference(volume, 's%d' % step))
            snaps.append(self.create_snapshot(
                volume, metadata={'owner': 'qa'}))

        kinds = [s.metadata['incsnap:kind'] for s in snaps]
        self.assertEqual(['full', 'incremental', 'incremental', 'full',
                          'incremental'], kinds)
        depths = [s.metadata['incsnap:chain_depth'] for s in snaps]
        self.assertEqual(['1', '2', '3', '1', '2'], depths)
        self.assertEqual('first', snaps[0].metadata['incsnap:full_reason'])
        self.assertEqual('delta_max',
                         snaps[3].metadata['incsnap:full_reason'])
        self.assertEqual(snaps[0].id, snaps[1].metadata['incsnap:parent'])
        self.assertEqual(snaps[1].id, snaps[2].metadata['incsnap:parent'])
        self.assertEqual(snaps[3].id, snaps[4].metadata['incsnap:parent'])
        self.assertNotIn('incsnap:parent', snaps[0].metadata)
        # The user's own metadata is kept.
        for snap in snaps:
            self.assertEqual('qa', snap.metadata['owner'])

        for snap, ref in zip(snaps, refs):
            self.assertSameContent(ref, self.snap_path(volume, snap))

        # Incrementals: backing file is the parent's, by relative name, and
        # they hold only what changed (4 MiB written per step, 1 of them
        # zeroes which take no data).
        for child, parent in ((1, 0), (2, 1), (4, 3)):
            info = self.image_info(self.snap_path(volume, snaps[child]))
            self.assertEqual('snapshot-%s.qcow2' % snaps[parent].id,
                             info['backing-filename'])
            self.assertLessEqual(self.allocated(
                self.snap_path(volume, snaps[child])), int(3 * MiB * 1.1))
        for full in (0, 3):
            info = self.image_info(self.snap_path(volume, snaps[full]))
            self.assertNotIn('backing-filename', info)

        # One bitmap, the newest snapshot's, stays in the volume.
        self.assertEqual(['incsnap-%s' % snaps[4].id],
                         self.bitmap_names(volume))

        # The chain document agrees.
        with open(os.path.join(self.snap_dir(volume), 'chain.json')) as f:
            doc = json.load(f)
        self.assertEqual(snaps[4].id, doc['head'])
        self.assertEqual([s.id for s in snaps],
                         [r['id'] for r in doc['snapshots']])

    def test_progress_reaches_100(self):
        volume = self.create_volume()
        self.write(volume, 0, 4 * MiB, 0x33)
        snap = self.create_snapshot(volume)
        self.assertEqual('100%', snap.progress)


class TestDeleteOrders(base.FunctionalTestCase):
    """CloudStack's D1-D3: leaf, parent kept hidden, cascade."""

    def setUp(self):
        super().setUp()
        self.volume = self.create_volume()
        self.snaps = []
        self.refs = []
        for step in range(5):
            self.write(self.volume, step * 4 * MiB, MiB, 0x50 + step)
            self.refs.append(self.reference(self.volume, 's%d' % step))
            self.snaps.append(self.create_snapshot(self.volume))

    def exists(self, snap):
        return os.path.exists(self.snap_path(self.volume, snap))

    def test_delete_orders(self):
        s1, s2, s3, s4, s5 = self.snaps
        # D1: the leaf s5 goes with its file.
        self.delete_snapshot(s5)
        self.assertFalse(self.exists(s5))
        # D2: s1 has dependents (s2, s3): deleted, file kept hidden.
        self.delete_snapshot(s1)
        self.assertTrue(self.exists(s1))
        self.assertSameContent(self.refs[2],
                               self.snap_path(self.volume, s3))
        # D3: s2 depends on s1 and has s3: hidden too; deleting s3 removes
        # s3, then s2 and s1 which nothing needs any more.
        self.delete_snapshot(s2)
        self.assertTrue(self.exists(s2))
        self.delete_snapshot(s3)
        for snap in (s1, s2, s3):
            self.assertFalse(self.exists(snap))
        # s4 (a full) is untouched.
        self.assertSameContent(self.refs[3],
                               self.snap_path(self.volume, s4))
        self.delete_snapshot(s4)
        self.assertEqual([], self.files_in(self.snap_dir(self.volume)))

    def test_next_snapshot_after_deleting_the_newest_is_full(self):
        self.delete_snapshot(self.snaps[4])
        self.write(self.volume, 40 * MiB, MiB, 0x66)
        ref = self.reference(self.volume, 'after')
        snap = self.create_snapshot(self.volume)
        self.assertEqual('full', snap.metadata['incsnap:kind'])
        self.assertEqual('parent_deleted',
                         snap.metadata['incsnap:full_reason'])
        self.assertSameContent(ref, self.snap_path(self.volume, snap))
        self.assertEqual(['incsnap-%s' % snap.id],
                         self.bitmap_names(self.volume))

    def test_delete_is_idempotent(self):
        self.driver.delete_snapshot(self.snaps[4])
        self.driver.delete_snapshot(self.snaps[4])
        self.assertFalse(self.exists(self.snaps[4]))
        self.assertTrue(self.exists(self.snaps[3]))


class TestVolumeFromSnapshot(base.FunctionalTestCase):

    def test_volume_from_each_snapshot(self):
        volume = self.create_volume()
        snaps, refs = [], []
        for step in range(3):
            self.write(volume, step * 4 * MiB, 2 * MiB, 0x70 + step)
            refs.append(self.reference(volume, 's%d' % step))
            snaps.append(self.create_snapshot(volume))
        from cinder import objects
        from cinder.volume import volume_types
        vtype = volume_types.get_default_volume_type(self.ctx)
        for snap, ref in zip(snaps, refs):
            new = objects.Volume(
                context=self.ctx, size=2, status='creating',
                host=volume.host, availability_zone='nova',
                volume_type_id=vtype['id'], project_id='p', user_id='u')
            new.create()
            new.update(self.driver.create_volume_from_snapshot(new, snap))
            new.save()
            self.addCleanup(self.driver.delete_volume, new)
            path = self.volume_path(new)
            info = self.image_info(path)
            self.assertNotIn('backing-filename', info)
            self.assertEqual('1.1', info['format-specific']['data']['compat'])
            # A larger requested size is honoured ...
            self.assertEqual(2 * base.GiB, info['virtual-size'])
            # ... and the data reads the same (the tail reads as zeroes).
            self.assertSameContent(ref, path)
            # Sparse: only the data written is allocated.
            self.assertLess(os.stat(path).st_blocks * 512, 64 * MiB)
        # The new volumes are independent: deleting the source and its
        # snapshots leaves them readable.
        last = self.volume_path(new)
        for snap in snaps:
            self.delete_snapshot(snap)
        self.driver.delete_volume(volume)
        self.assertSameContent(refs[-1], last)

    def test_clone_volume(self):
        volume = self.create_volume()
        self.write(volume, 0, 3 * MiB, 0x7a)
        self.create_snapshot(volume)
        ref = self.reference(volume, 'src')
        from cinder import objects
        clone = objects.Volume(
            context=self.ctx, size=1, status='creating', host=volume.host,
            availability_zone='nova', volume_type_id=volume.volume_type_id,
            project_id='p', user_id='u')
        clone.create()
        clone.update(self.driver.create_cloned_volume(clone, volume))
        self.addCleanup(self.driver.delete_volume, clone)
        self.assertSameContent(ref, self.volume_path(clone))
        # The clone carries no bitmap of the source's chain.
        self.assertEqual([], self.bitmap_names(clone))


class TestThroughRootHelper(base.FunctionalTestCase):
    """The whole lifecycle through Cinder's root helper.

    With nas_secure_file_operations = false every QEMU tool and file
    command runs through sudo + cinder-rootwrap with the shipped filters
    (etc/incsnap/rootwrap.d) next to Cinder's own.
    """

    backend_options = {'nas_secure_file_operations': 'false',
                       'nas_secure_file_permissions': 'false'}

    def test_lifecycle_through_rootwrap(self):
        self.assertTrue(self.driver._execute_as_root)
        volume = self.create_volume()
        self.write(volume, 0, 2 * MiB, 0x91)
        s1 = self.create_snapshot(volume)
        self.write(volume, 4 * MiB, MiB, 0x92)
        ref2 = self.reference(volume, 's2')
        s2 = self.create_snapshot(volume)
        self.assertEqual('incremental', s2.metadata['incsnap:kind'])
        self.assertSameContent(ref2, self.snap_path(volume, s2))
        self.write(volume, 0, MiB, 0x93)
        self.driver.revert_to_snapshot(self.ctx, volume, s2)
        self.assertSameContent(ref2, self.volume_path(volume))
        # Open permissions, as the option asks.
        mode = os.stat(self.snap_path(volume, s2)).st_mode & 0o777
        self.assertEqual(0o666, mode & 0o666)
        self.delete_snapshot(s1)
        self.delete_snapshot(s2)
        self.assertEqual([], self.files_in(self.snap_dir(volume)))


class TestProgress(base.FunctionalTestCase):

    backend_options = {'volume_copy_bps_limit': 8 * MiB}

    def test_progress_is_saved_while_copying(self):
        import threading
        import time

        from cinder import objects
        volume = self.create_volume()
        self.write(volume, 0, 40 * MiB, 0x21)
        snap = self.new_snapshot(volume)
        seen = set()
        thread = threading.Thread(target=self.driver.create_snapshot,
                                  args=(snap,))
        thread.start()
        while thread.is_alive():
            seen.add(objects.Snapshot.get_by_id(self.ctx, snap.id).progress)
            time.sleep(0.1)
        thread.join()
        seen.add(objects.Snapshot.get_by_id(self.ctx, snap.id).progress)
        # About five seconds of copying at the limit: values in between
        # were saved for users to see, and it ended at 100%.
        between = {p for p in seen if p not in ('0%', '100%')}
        self.assertTrue(between, seen)
        self.assertIn('100%', seen)
