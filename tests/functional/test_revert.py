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
"""Revert to the newest snapshot: O(changed) copy-back, or full."""

import os

from tests.functional import base

MiB = base.MiB


class TestRevert(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.volume = self.create_volume()
        self.path = self.volume_path(self.volume)
        self.write(self.volume, 0, 8 * MiB, 0x11)
        self.s1 = self.create_snapshot(self.volume)
        self.write(self.volume, 2 * MiB, 2 * MiB, 0x22)
        self.write(self.volume, 20 * MiB, MiB, 0x23)
        self.ref2 = self.reference(self.volume, 's2')
        self.s2 = self.create_snapshot(self.volume)

    def junk(self):
        self.write(self.volume, 0, MiB, 0xee)
        self.write(self.volume, 30 * MiB, 3 * MiB, 0xef)
        self.write_zeroes(self.volume, 20 * MiB, MiB)
        self.assertDifferentContent(self.ref2, self.path)

    def test_revert_copies_back_only_changes_and_chain_continues(self):
        inode = os.stat(self.path).st_ino
        self.junk()
        self.driver.revert_to_snapshot(self.ctx, self.volume, self.s2)
        self.assertSameContent(self.ref2, self.path)
        # Copied in place (same file), not rebuilt.
        self.assertEqual(inode, os.stat(self.path).st_ino)
        # The bitmap was cleared and kept: the chain goes on.
        self.assertEqual(['incsnap-%s' % self.s2.id],
                         self.bitmap_names(self.volume))
        self.write(self.volume, 40 * MiB, MiB, 0x44)
        ref3 = self.reference(self.volume, 's3')
        s3 = self.create_snapshot(self.volume)
        self.assertEqual('incremental', s3.metadata['incsnap:kind'])
        self.assertEqual(self.s2.id, s3.metadata['incsnap:parent'])
        self.assertSameContent(ref3, self.snap_path(self.volume, s3))
        # Only the one MiB written after the revert is in s3.
        self.assertLessEqual(
            self.allocated(self.snap_path(self.volume, s3)), MiB)
        # Snapshots and the share hold nothing left over.
        self.assertEqual(
            sorted(['chain.json', 'snapshot-%s.qcow2' % self.s1.id,
                    'snapshot-%s.qcow2' % self.s2.id,
                    'snapshot-%s.qcow2' % s3.id]),
            self.files_in(self.snap_dir(self.volume)))

    def test_revert_without_changes_is_a_no_op(self):
        self.driver.revert_to_snapshot(self.ctx, self.volume, self.s2)
        self.assertSameContent(self.ref2, self.path)

    def test_revert_full_when_bitmap_was_removed(self):
        self.junk()
        base.sh('qemu-img', 'bitmap', '--remove', self.path,
                'incsnap-%s' % self.s2.id)
        inode = os.stat(self.path).st_ino
        self.driver.revert_to_snapshot(self.ctx, self.volume, self.s2)
        self.assertSameContent(self.ref2, self.path)
        # Rebuilt from the chain into a new file ...
        self.assertNotEqual(inode, os.stat(self.path).st_ino)
        info = self.image_info(self.path)
        self.assertNotIn('backing-filename', info)
        self.assertEqual('1.1', info['format-specific']['data']['compat'])
        self.assertEqual(base.GiB, info['virtual-size'])
        # ... that carries a fresh bitmap: the next snapshot is incremental.
        self.write(self.volume, 50 * MiB, MiB, 0x55)
        ref3 = self.reference(self.volume, 's3')
        s3 = self.create_snapshot(self.volume)
        self.assertEqual('incremental', s3.metadata['incsnap:kind'])
        self.assertSameContent(ref3, self.snap_path(self.volume, s3))
        self.assertNotIn('.part', ' '.join(self.share_files()))

    def test_revert_to_snapshot_after_older_ones_deleted(self):
        # s1 becomes hidden; reverting to s2 reads through it.
        self.delete_snapshot(self.s1)
        self.junk()
        self.driver.revert_to_snapshot(self.ctx, self.volume, self.s2)
        self.assertSameContent(self.ref2, self.path)

    def test_revert_with_incremental_disabled_is_full(self):
        driver = self.make_driver(kvm_incremental_snapshot=False)
        self.junk()
        driver.revert_to_snapshot(self.ctx, self.volume, self.s2)
        self.assertSameContent(self.ref2, self.path)
        self.assertEqual([], self.bitmap_names(self.volume))


class TestRevertStartsChain(base.FunctionalTestCase):

    backend_options = {'kvm_incremental_snapshot': False}

    def test_revert_to_untracked_snapshot_then_incremental(self):
        # Taken while incremental snapshots were off: no bitmap.
        volume = self.create_volume()
        self.write(volume, 0, 4 * MiB, 0x31)
        ref1 = self.reference(volume, 's1')
        s1 = self.create_snapshot(volume)
        self.write(volume, 0, MiB, 0x32)
        # Turned on; revert rebuilds the volume with a bitmap named after
        # s1, so the next snapshot is an incremental child of s1.
        driver = self.make_driver(kvm_incremental_snapshot=True)
        driver.revert_to_snapshot(self.ctx, volume, s1)
        self.assertSameContent(ref1, self.volume_path(volume))
        self.write(volume, 8 * MiB, MiB, 0x33)
        ref2 = self.reference(volume, 's2')
        s2 = self.create_snapshot(volume, driver=driver)
        self.assertEqual('incremental', s2.metadata['incsnap:kind'])
        self.assertEqual(s1.id, s2.metadata['incsnap:parent'])
        self.assertSameContent(ref2, self.snap_path(volume, s2))
        self.assertLessEqual(self.allocated(self.snap_path(volume, s2)), MiB)
