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
"""Online snapshots through libvirt backup jobs, on real libvirtd + QEMU."""

import os
import time
import uuid

import eventlet

from incsnap_driver.virt import backup
from incsnap_driver.virt import checkpoints
from incsnap_driver.virt import domain
from incsnap_driver.virt import errors
from incsnap_driver.virt import imagelock
from tests.functional.virt import base

MiB = base.MiB
CLUSTER = base.CLUSTER


class OnlineBackupTest(base.VirtTestCase):

    def attached(self, volume, dom_uuid):
        return domain.find_attached_disk(self.conn, dom_uuid, volume.name)

    def snap(self, disk, volume, label, **kwargs):
        """Run a backup into ``<volume>.incsnap/<label>.qcow2``."""
        folder = volume.path + '.incsnap'
        os.makedirs(folder, exist_ok=True)
        rel = '%s.incsnap/%s.qcow2' % (volume.name, label)
        kwargs.setdefault('poll_interval', 0.1)
        result = backup.run_backup(disk, rel, **kwargs)
        self.assertEqual(os.path.join(folder, label + '.qcow2'),
                         result.target_path)
        return result

    def test_full_backup_is_the_volume_at_that_moment(self):
        vol = self.make_volume()
        _dom, dom_uuid = self.start_domain([vol])
        self.write(dom_uuid, vol, 0, 4 * MiB, 0xaa)
        self.write(dom_uuid, vol, 40 * MiB, 1 * MiB, 0xbb)
        expected = vol.model_copy()
        disk = self.attached(vol, dom_uuid)
        self.assertEqual('vda', disk.target)
        seen = []
        result = self.snap(disk, vol, 'full', checkpoint_name='cp-full',
                           progress=seen.append)
        # Written after the snapshot: must not show in it.
        self.write(dom_uuid, vol, 0, 1 * MiB, 0x11)

        self.assert_same_content(result.target_path, expected)
        self.assertNotIn('backing-filename',
                         base.image_info(result.target_path))
        self.assertEqual(sorted(seen), seen)
        self.assertEqual(100, seen[-1])
        name, _created, bitmap = checkpoints.parse_checkpoint(
            result.checkpoint_xml)
        self.assertEqual(('cp-full', 'cp-full'), (name, bitmap))
        self.assertIn("name='vda'", result.checkpoint_xml)
        self.assertEqual(['cp-full'], checkpoints.names_on_disk(disk))

    def test_full_backup_without_checkpoint(self):
        vol = self.make_volume()
        _dom, dom_uuid = self.start_domain([vol])
        self.write(dom_uuid, vol, 1 * MiB, 2 * MiB, 0x42)
        expected = vol.model_copy()
        disk = self.attached(vol, dom_uuid)
        result = self.snap(disk, vol, 'plain')
        self.assertIsNone(result.checkpoint_xml)
        self.assertEqual([], checkpoints.names_on_disk(disk))
        self.assert_same_content(result.target_path, expected)

    def test_incremental_holds_only_changes_and_chain_reads_right(self):
        vol = self.make_volume()
        other = self.make_volume(16 * MiB)
        # Our volume is the second disk: the others must stay out of it.
        _dom, dom_uuid = self.start_domain([other, vol])
        self.write(dom_uuid, vol, 0, 8 * MiB, 0xaa, disk_index=1)
        disk = self.attached(vol, dom_uuid)
        self.assertEqual(('vdb', ('vda', 'vdb')),
                         (disk.target, disk.all_targets))
        full = self.snap(disk, vol, 's1', checkpoint_name='cp1')
        expected_full = vol.model_copy()

        changed = [(1 * MiB, CLUSTER), (5 * MiB + CLUSTER, 2 * CLUSTER),
                   (30 * MiB, 1 * MiB)]
        for offset, length in changed:
            self.write(dom_uuid, vol, offset, length, 0xcd, disk_index=1)
        self.write(dom_uuid, other, 0, 1 * MiB, 0x77, disk_index=0)
        expected_inc = vol.model_copy()

        self.assertFalse(checkpoints.ensure_checkpoint(disk, 'cp1', None))
        inc = self.snap(disk, vol, 's2', checkpoint_name='cp2',
                        incremental='cp1')
        self.write(dom_uuid, vol, 0, 2 * MiB, 0x99, disk_index=1)

        # libvirt created it backed by the live volume (compute host path).
        self.assertEqual(vol.path, base.image_info(inc.target_path)
                         ['backing-filename'])
        self.assertEqual(sum(length for _o, length in changed),
                         base.allocated_bytes(inc.target_path))
        imagelock.wait_unlocked(inc.target_path, timeout=10)
        self.rebase(inc.target_path, full.target_path)
        self.assert_same_content(inc.target_path, expected_inc)
        self.assert_same_content(full.target_path, expected_full)

        # Bounded bitmaps: drop the parent; the other disk keeps nothing.
        self.assertEqual(['cp1'], checkpoints.prune(disk, keep=['cp2']))
        self.assertEqual(['cp2'], checkpoints.names_on_disk(disk))
        self.stop_cleanly(dom_uuid)
        self.assertEqual({'cp2': ['auto']}, base.image_bitmaps(vol.path))
        self.assertEqual({}, base.image_bitmaps(other.path))

    def test_restart_redefines_checkpoint_and_goes_on(self):
        vol = self.make_volume()
        dom_uuid = str(uuid.uuid4())
        self.start_domain([vol], dom_uuid)
        self.write(dom_uuid, vol, 0, 4 * MiB, 0xaa)
        disk = self.attached(vol, dom_uuid)
        full = self.snap(disk, vol, 's1', checkpoint_name='cp1')
        saved = full.checkpoint_xml
        self.stop_cleanly(dom_uuid)
        self.assertIsNone(domain.find_running_domain(self.conn, dom_uuid))

        # "Migration": a fresh transient domain with the same UUID.
        self.start_domain([vol], dom_uuid)
        disk = self.attached(vol, dom_uuid)
        self.assertFalse(checkpoints.exists(disk.domain, 'cp1'))
        self.write(dom_uuid, vol, 2 * MiB, 3 * CLUSTER, 0x5c)
        expected = vol.model_copy()
        self.assertTrue(checkpoints.ensure_checkpoint(disk, 'cp1', saved))
        inc = self.snap(disk, vol, 's2', checkpoint_name='cp2',
                        incremental='cp1')
        self.assertEqual(3 * CLUSTER, base.allocated_bytes(inc.target_path))
        self.rebase(inc.target_path, full.target_path)
        self.assert_same_content(inc.target_path, expected)

    def test_reattach_to_another_domain_as_other_disk(self):
        vol = self.make_volume()
        first_uuid = str(uuid.uuid4())
        self.start_domain([vol], first_uuid)
        dom_uuid = first_uuid
        self.write(dom_uuid, vol, 0, 2 * MiB, 0xaa)
        disk = self.attached(vol, dom_uuid)
        full = self.snap(disk, vol, 's1', checkpoint_name='cp1')
        self.stop_cleanly(first_uuid)

        other = self.make_volume(16 * MiB)
        _dom, second_uuid = self.start_domain([other, vol])
        disk = self.attached(vol, second_uuid)
        self.assertEqual('vdb', disk.target)
        self.write(second_uuid, vol, 8 * MiB, CLUSTER, 0x31, disk_index=1)
        expected = vol.model_copy()
        self.assertTrue(checkpoints.ensure_checkpoint(
            disk, 'cp1', full.checkpoint_xml))
        inc = self.snap(disk, vol, 's2', checkpoint_name='cp2',
                        incremental='cp1')
        self.assertEqual(CLUSTER, base.allocated_bytes(inc.target_path))
        self.rebase(inc.target_path, full.target_path)
        self.assert_same_content(inc.target_path, expected)

    def test_bitmap_in_use_after_sigkill_is_inconsistent(self):
        vol = self.make_volume()
        dom_uuid = str(uuid.uuid4())
        self.start_domain([vol], dom_uuid)
        self.write(dom_uuid, vol, 0, 2 * MiB, 0xaa)
        full = self.snap(self.attached(vol, dom_uuid), vol, 's1',
                         checkpoint_name='cp1')
        self.stop_cleanly(dom_uuid)
        self.assertEqual({'cp1': ['auto']}, base.image_bitmaps(vol.path))
        self.start_domain([vol], dom_uuid)
        self.write(dom_uuid, vol, 4 * MiB, CLUSTER, 0xbb)
        # A guest flushes what it wants to survive; SIGKILL loses the
        # rest (QEMU's cached qcow2 metadata).
        self.flush(dom_uuid)
        self.kill_qemu(dom_uuid)
        self.assertEqual({'cp1': ['in-use', 'auto']},
                         base.image_bitmaps(vol.path))

        self.start_domain([vol], dom_uuid)
        disk = self.attached(vol, dom_uuid)
        exc = self.assertRaises(errors.CheckpointUnusable,
                                checkpoints.ensure_checkpoint, disk, 'cp1',
                                full.checkpoint_xml)
        self.assertEqual('bitmap_inconsistent', exc.reason)
        self.assertEqual([], checkpoints.names_on_disk(disk))
        # The next snapshot is full, and right.
        expected = vol.model_copy()
        again = self.snap(disk, vol, 's2', checkpoint_name='cp2')
        self.assert_same_content(again.target_path, expected)
        self.stop_cleanly(dom_uuid)
        # The broken bitmap is gone from the image, the new one is there.
        self.assertEqual({'cp2': ['auto']}, base.image_bitmaps(vol.path))

    def test_bitmap_never_stored_after_sigkill_is_missing(self):
        vol = self.make_volume()
        dom_uuid = str(uuid.uuid4())
        self.start_domain([vol], dom_uuid)
        self.write(dom_uuid, vol, 0, 2 * MiB, 0xaa)
        full = self.snap(self.attached(vol, dom_uuid), vol, 's1',
                         checkpoint_name='cp1')
        self.kill_qemu(dom_uuid)
        self.assertEqual({}, base.image_bitmaps(vol.path))

        self.start_domain([vol], dom_uuid)
        disk = self.attached(vol, dom_uuid)
        exc = self.assertRaises(errors.CheckpointUnusable,
                                checkpoints.ensure_checkpoint, disk, 'cp1',
                                full.checkpoint_xml)
        self.assertEqual('bitmap_missing', exc.reason)
        self.assertEqual([], checkpoints.names_on_disk(disk))
        # Deleting a checkpoint whose bitmap is gone clears its metadata.
        self.assertFalse(checkpoints.delete_checkpoint(
            disk, 'cp1', full.checkpoint_xml))
        self.assertFalse(checkpoints.exists(disk.domain, 'cp1'))

    def test_timeout_aborts_job_and_removes_partial_target(self):
        vol = self.make_volume(1024 * MiB)
        _dom, dom_uuid = self.start_domain([vol])
        self.write(dom_uuid, vol, 0, 128 * MiB, 0xaa)
        disk = self.attached(vol, dom_uuid)
        # Slow from the first byte (128 MiB at 1 MiB/s cannot finish in
        # 2 s); once the job runs, at its own speed.
        self.throttle_backup(dom_uuid)
        throttled = []

        def progress(percent):
            if not throttled:
                throttled.append(self.slow_backup(dom_uuid))

        removed = []

        def remover(path):
            removed.append(path)
            backup.remove_local_file(path)

        ticks = []

        def ticker():
            while True:
                ticks.append(1)
                eventlet.sleep(0.01)

        green = eventlet.spawn(ticker)
        self.addCleanup(green.kill)
        started = time.monotonic()
        self.assertRaises(errors.BackupTimeout, self.snap, disk, vol, 'slow',
                          checkpoint_name='cp-slow', timeout=2,
                          progress=progress, remove_target=remover)
        elapsed = time.monotonic() - started
        target = os.path.join(vol.path + '.incsnap', 'slow.qcow2')
        self.assertEqual([1], throttled)
        self.assertEqual([target], removed)
        self.assertFalse(os.path.exists(target))
        self.assertFalse(checkpoints.exists(disk.domain, 'cp-slow'))
        self.assertLess(elapsed, 30)
        # The hub kept running while we waited (no blocking loop).
        self.assertGreater(len(ticks), 50)
        # The domain is free again: the next snapshot works.
        expected = vol.model_copy()
        ok = self.snap(disk, vol, 'after', checkpoint_name='cp-after')
        self.assert_same_content(ok.target_path, expected)

    def test_second_job_on_same_domain_is_busy_at_once(self):
        vol = self.make_volume(256 * MiB)
        _dom, dom_uuid = self.start_domain([vol])
        self.write(dom_uuid, vol, 0, 64 * MiB, 0xaa)
        disk = self.attached(vol, dom_uuid)
        folder = vol.path + '.incsnap'
        os.makedirs(folder)
        # Slow from the first byte: the first job still runs when the
        # second is asked for.
        self.throttle_backup(dom_uuid)
        disk.domain.backupBegin(backup.backup_xml(
            'vda', os.path.join(folder, 'first.qcow2'), disk.all_targets),
            None, 0)
        self.addCleanup(self._abort_quietly, disk.domain)
        self.slow_backup(dom_uuid)
        started = time.monotonic()
        self.assertRaises(errors.DomainBusy, self.snap, disk, vol, 'second',
                          checkpoint_name='cp2')
        self.assertLess(time.monotonic() - started, 5)
        self.assertFalse(os.path.exists(os.path.join(folder,
                                                     'second.qcow2')))
        self.assertFalse(checkpoints.exists(disk.domain, 'cp2'))

    def _abort_quietly(self, dom):
        try:
            dom.abortJob()
        except Exception:
            pass

    def test_existing_target_is_refused_and_left_alone(self):
        vol = self.make_volume()
        _dom, dom_uuid = self.start_domain([vol])
        disk = self.attached(vol, dom_uuid)
        folder = vol.path + '.incsnap'
        os.makedirs(folder)
        existing = os.path.join(folder, 'taken.qcow2')
        with open(existing, 'wb') as f:
            f.write(b'precious')
        self.assertRaises(errors.BackupFailed, self.snap, disk, vol, 'taken',
                          checkpoint_name='cp1')
        with open(existing, 'rb') as f:
            self.assertEqual(b'precious', f.read())
        self.assertFalse(checkpoints.exists(disk.domain, 'cp1'))

    def test_quiesce_try_without_agent_goes_on(self):
        vol = self.make_volume()
        _dom, dom_uuid = self.start_domain([vol])
        self.write(dom_uuid, vol, 0, 1 * MiB, 0xee)
        expected = vol.model_copy()
        disk = self.attached(vol, dom_uuid)
        with self.assertLogs('incsnap_driver.virt.backup', 'WARNING') as log:
            result = self.snap(disk, vol, 'q', checkpoint_name='cp-q',
                               quiesce='try')
        self.assertIn('guest agent', '\n'.join(log.output))
        self.assert_same_content(result.target_path, expected)

    def test_quiesce_require_without_agent_fails_clearly(self):
        vol = self.make_volume()
        _dom, dom_uuid = self.start_domain([vol])
        disk = self.attached(vol, dom_uuid)
        exc = self.assertRaises(errors.QuiesceFailed, self.snap, disk, vol,
                                'q', checkpoint_name='cp-q',
                                quiesce='require')
        self.assertIn('guest agent', str(exc))
        self.assertIn('require', str(exc))
        self.assertFalse(os.path.exists(os.path.join(vol.path + '.incsnap',
                                                     'q.qcow2')))
        self.assertFalse(checkpoints.exists(disk.domain, 'cp-q'))
