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
"""QEMU tools failing or killed mid-copy: nothing lost, nothing left.

Copies are slowed with Cinder's ``volume_copy_bps_limit`` (the driver
passes it to QEMU as the job speed) so that a copy is still running when
the test kills the daemon.
"""

import os
import signal
import threading
import time

from cinder import exception

from tests.common import processes
from tests.functional import base

MiB = base.MiB
SLOW = 8 * MiB  # bytes per second


def find_daemon(volume_path, timeout=20):
    """PID of the qemu-storage-daemon that has ``volume_path`` open."""
    return processes.find_process(volume_path, timeout=timeout)


class KillMidCopy(base.FunctionalTestCase):
    """Run a driver call in a thread and SIGKILL its QEMU tool mid-way."""

    def run_and_kill(self, func, args, ready, path,
                     program='qemu-storage-daemon'):
        """Start ``func(*args)``; once ``ready()``, kill ``program``.

        The process is the one whose command line names ``path``, looked
        up only once ready (a daemonizing parent is gone by then). Returns
        ``{'result': ...}`` or ``{'error': exception}``.
        """
        outcome = {}

        def target():
            try:
                outcome['result'] = func(*args)
            except Exception as exc:
                outcome['error'] = exc

        thread = threading.Thread(target=target)
        thread.start()
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.005)
        self.assertTrue(ready(), 'copy never got under way')
        os.kill(processes.find_process(path, program), signal.SIGKILL)
        thread.join(60)
        self.assertFalse(thread.is_alive())
        return outcome


class KilledMidCopy(KillMidCopy):

    backend_options = {'volume_copy_bps_limit': SLOW}

    def setUp(self):
        super().setUp()
        self.volume = self.create_volume()
        self.write(self.volume, 0, 4 * MiB, 0x10)
        self.ref1 = self.reference(self.volume, 's1')
        self.s1 = self.create_snapshot(self.volume)
        # 32 MiB of changes: about four seconds at the limit.
        self.write(self.volume, 8 * MiB, 32 * MiB, 0x20)
        self.ref_now = self.reference(self.volume, 'now')

    def assertNothingLeft(self):
        names = self.files_in(self.snap_dir(self.volume))
        self.assertEqual(sorted(['chain.json',
                                 'snapshot-%s.qcow2' % self.s1.id]), names)
        self.assertNotIn('.part', ' '.join(self.share_files()))

    def test_snapshot_killed_mid_copy(self):
        snap = self.new_snapshot(self.volume)
        part = os.path.join(self.snap_dir(self.volume),
                            'snapshot-%s.qcow2.part' % snap.id)
        outcome = self.run_and_kill(
            self.driver.create_snapshot, (snap,),
            lambda: (os.path.exists(part) and
                     os.path.getsize(part) > 2 * MiB),
            self.volume_path(self.volume))
        self.assertIsInstance(outcome.get('error'),
                              exception.VolumeBackendAPIException)
        self.assertIn(snap.id, str(outcome['error']))
        # Volume and older snapshot intact, nothing partial left.
        self.assertSameContent(self.ref_now, self.volume_path(self.volume))
        self.assertSameContent(self.ref1,
                               self.snap_path(self.volume, self.s1))
        self.assertNothingLeft()
        # The killed QEMU left the bitmap in-use: the next snapshot is a
        # full one that says why, and it is correct.
        fast = self.make_driver(volume_copy_bps_limit=0)
        s2 = self.create_snapshot(self.volume, driver=fast)
        self.assertEqual('full', s2.metadata['incsnap:kind'])
        self.assertEqual('bitmap_inconsistent',
                         s2.metadata['incsnap:full_reason'])
        self.assertSameContent(self.ref_now, self.snap_path(self.volume, s2))
        # Only the new, consistent bitmap remains.
        self.assertEqual(['incsnap-%s' % s2.id],
                         self.bitmap_names(self.volume))
        # And the chain continues from it.
        self.write(self.volume, 0, MiB, 0x30)
        ref3 = self.reference(self.volume, 's3')
        s3 = self.create_snapshot(self.volume, driver=fast)
        self.assertEqual('incremental', s3.metadata['incsnap:kind'])
        self.assertSameContent(ref3, self.snap_path(self.volume, s3))

    def test_revert_killed_mid_copy_is_rolled_back(self):
        fast = self.make_driver(volume_copy_bps_limit=0)
        s2 = self.create_snapshot(self.volume, driver=fast)
        ref2 = self.ref_now
        # 32 MiB of junk to copy back.
        self.write(self.volume, 8 * MiB, 32 * MiB, 0x99)
        ref_junk = self.reference(self.volume, 'junk')
        undo = os.path.join(self.snap_dir(self.volume),
                            'revert-%s.undo.qcow2' % s2.id)
        chain_doc = os.path.join(self.snap_dir(self.volume), 'chain.json')

        def applying():
            with open(chain_doc) as f:
                return '"journal": {' in f.read()

        outcome = self.run_and_kill(self.driver.revert_to_snapshot,
                                    (self.ctx, self.volume, s2), applying,
                                    self.volume_path(self.volume))
        self.assertIsInstance(outcome.get('error'),
                              exception.VolumeBackendAPIException)
        # The copy-back was rolled back from the undo file at once.
        self.assertFalse(os.path.exists(undo))
        self.assertSameContent(ref_junk, self.volume_path(self.volume))
        with open(chain_doc) as f:
            self.assertIn('"journal": null', f.read())
        self.assertNotIn('.part', ' '.join(self.share_files()))
        # Snapshots are intact and a second revert succeeds.
        self.assertSameContent(ref2, self.snap_path(self.volume, s2))
        fast.revert_to_snapshot(self.ctx, self.volume, s2)
        self.assertSameContent(ref2, self.volume_path(self.volume))


class KilledFullAndFlatten(KillMidCopy):
    """The first (full) snapshot and a volume-from-snapshot killed."""

    backend_options = {'volume_copy_bps_limit': SLOW}

    def setUp(self):
        super().setUp()
        self.volume = self.create_volume()
        self.write(self.volume, 0, 32 * MiB, 0x10)
        self.ref = self.reference(self.volume, 'now')

    def check_full_snapshot_killed(self, ready):
        snap = self.new_snapshot(self.volume)
        part = os.path.join(self.snap_dir(self.volume),
                            'snapshot-%s.qcow2.part' % snap.id)
        outcome = self.run_and_kill(self.driver.create_snapshot, (snap,),
                                    lambda: ready(part),
                                    self.volume_path(self.volume))
        self.assertIsInstance(outcome.get('error'),
                              exception.VolumeBackendAPIException)
        self.assertFalse(os.path.exists(part))
        self.assertSameContent(self.ref, self.volume_path(self.volume))
        self.assertEqual([], [n for n in self.files_in(
            self.snap_dir(self.volume)) if n != 'chain.json'])
        # No daemon is left running on the volume.
        self.assertRaises(AssertionError, processes.find_process,
                          self.volume_path(self.volume), timeout=1.5)
        fast = self.make_driver(volume_copy_bps_limit=0)
        s1 = self.create_snapshot(self.volume, driver=fast)
        self.assertEqual('full', s1.metadata['incsnap:kind'])
        self.assertSameContent(self.ref, self.snap_path(self.volume, s1))

    def test_full_snapshot_killed_as_it_starts(self):
        self.check_full_snapshot_killed(os.path.exists)

    def test_full_snapshot_killed_mid_copy(self):
        self.check_full_snapshot_killed(
            lambda part: (os.path.exists(part) and
                          os.stat(part).st_blocks * 512 > 4 * MiB))

    def test_volume_from_snapshot_killed_mid_copy(self):
        fast = self.make_driver(volume_copy_bps_limit=0)
        snap = self.create_snapshot(self.volume, driver=fast)
        from cinder import objects
        new = objects.Volume(
            context=self.ctx, size=1, status='creating',
            host=self.volume.host, availability_zone='nova',
            volume_type_id=self.volume.volume_type_id, project_id='p',
            user_id='u')
        new.create()
        new_path = os.path.join(self.mount_point, 'volume-%s' % new.id)
        part = new_path + '.part'
        outcome = self.run_and_kill(
            self.driver.create_volume_from_snapshot, (new, snap),
            lambda: (os.path.exists(part) and
                     os.stat(part).st_blocks * 512 > 4 * MiB),
            part, program='qemu-img')
        self.assertIsInstance(outcome.get('error'),
                              exception.VolumeBackendAPIException)
        self.assertIn(snap.id, str(outcome['error']))
        self.assertFalse(os.path.exists(part))
        self.assertFalse(os.path.exists(new_path))
        self.assertSameContent(self.ref, self.snap_path(self.volume, snap))
        # Trying again works.
        new.update(fast.create_volume_from_snapshot(new, snap))
        self.addCleanup(fast.delete_volume, new)
        self.assertSameContent(self.ref, new_path)


class CopyTimeout(base.FunctionalTestCase):

    backend_options = {'volume_copy_bps_limit': SLOW,
                       'incsnap_copy_timeout': 1}

    def test_snapshot_timeout_cancels_cleanly(self):
        volume = self.create_volume()
        self.write(volume, 0, 2 * MiB, 0x10)
        fast = self.make_driver(volume_copy_bps_limit=0,
                                incsnap_copy_timeout=600)
        s1 = self.create_snapshot(volume, driver=fast)
        self.write(volume, 4 * MiB, 32 * MiB, 0x20)
        ref = self.reference(volume, 'now')
        snap = self.new_snapshot(volume)
        started = time.monotonic()
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_snapshot, snap)
        self.assertLess(time.monotonic() - started, 30)
        self.assertIn('did not finish within 1 seconds', str(exc))
        self.assertSameContent(ref, self.volume_path(volume))
        self.assertEqual(sorted(['chain.json',
                                 'snapshot-%s.qcow2' % s1.id]),
                         self.files_in(self.snap_dir(volume)))
        # The cancelled job left the parent bitmap whole and consistent:
        # the next snapshot is still incremental, and correct.
        self.assertEqual(['incsnap-%s' % s1.id], self.bitmap_names(volume))
        s2 = self.create_snapshot(volume, driver=fast)
        self.assertEqual('incremental', s2.metadata['incsnap:kind'])
        self.assertSameContent(ref, self.snap_path(volume, s2))


class BrokenTools(base.FunctionalTestCase):

    def test_snapshot_of_missing_volume_file(self):
        volume = self.create_volume()
        os.unlink(self.volume_path(volume))
        snap = self.new_snapshot(volume)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_snapshot, snap)
        self.assertIn(volume.id, str(exc))
        self.assertIn('missing', str(exc))
        self.assertEqual([], self.files_in(self.snap_dir(volume)))

    def test_snapshot_with_parent_file_gone(self):
        volume = self.create_volume()
        self.write(volume, 0, MiB, 0x10)
        s1 = self.create_snapshot(volume)
        os.unlink(self.snap_path(volume, s1))
        self.write(volume, MiB, MiB, 0x11)
        ref = self.reference(volume, 'now')
        s2 = self.create_snapshot(volume)
        self.assertEqual('full', s2.metadata['incsnap:kind'])
        self.assertEqual('parent_gone', s2.metadata['incsnap:full_reason'])
        self.assertSameContent(ref, self.snap_path(volume, s2))

    def test_corrupt_chain_document_is_reported(self):
        volume = self.create_volume()
        self.write(volume, 0, MiB, 0x10)
        s1 = self.create_snapshot(volume)
        doc = os.path.join(self.snap_dir(volume), 'chain.json')
        with open(doc, 'w') as f:
            f.write('{"volume_id": ')
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.delete_snapshot, s1)
        self.assertIn(volume.id, str(exc))
        self.assertIn(doc, str(exc))
        # Nothing was removed on the strength of a broken document.
        self.assertTrue(os.path.exists(self.snap_path(volume, s1)))


class DamageFromOutside(base.FunctionalTestCase):
    """Files changed behind the driver's back.

    Clear errors or a correct full snapshot, never a silently wrong one,
    never data removed.
    """

    def setUp(self):
        super().setUp()
        self.volume = self.create_volume()
        self.write(self.volume, 0, MiB, 0x10)
        self.ref1 = self.reference(self.volume, 's1')
        self.s1 = self.create_snapshot(self.volume)
        self.write(self.volume, MiB, MiB, 0x11)
        self.ref2 = self.reference(self.volume, 's2')
        self.s2 = self.create_snapshot(self.volume)
        self.doc = os.path.join(self.snap_dir(self.volume), 'chain.json')

    def test_chain_document_removed(self):
        os.unlink(self.doc)
        snap = self.new_snapshot(self.volume)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_snapshot, snap)
        self.assertIn(self.volume.id, str(exc))
        self.assertIn('chain.json', str(exc))
        self.assertIn('missing', str(exc))
        # The snapshot files are still there, unchanged.
        self.assertSameContent(self.ref1,
                               self.snap_path(self.volume, self.s1))
        self.assertSameContent(self.ref2,
                               self.snap_path(self.volume, self.s2))

    def test_bitmap_removed_by_hand(self):
        base.sh('qemu-img', 'bitmap', '--remove',
                self.volume_path(self.volume), 'incsnap-%s' % self.s2.id)
        self.write(self.volume, 2 * MiB, MiB, 0x12)
        ref = self.reference(self.volume, 's3')
        s3 = self.create_snapshot(self.volume)
        self.assertEqual('full', s3.metadata['incsnap:kind'])
        self.assertEqual('bitmap_missing', s3.metadata['incsnap:full_reason'])
        self.assertSameContent(ref, self.snap_path(self.volume, s3))

    def test_middle_of_chain_missing(self):
        os.unlink(self.snap_path(self.volume, self.s1))
        # s2 needs s1: reading it fails with a message naming the file.
        from cinder import objects
        new = objects.Volume(
            context=self.ctx, size=1, status='creating',
            host=self.volume.host, availability_zone='nova',
            volume_type_id=self.volume.volume_type_id, project_id='p',
            user_id='u')
        new.create()
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_volume_from_snapshot,
                                new, self.s2)
        self.assertIn(self.s2.id, str(exc))
        self.assertIn('snapshot-%s.qcow2' % self.s1.id, str(exc))
        self.assertFalse(os.path.exists(self.volume_path(new)))
        self.assertNotIn('.part', ' '.join(self.share_files()))
        # A revert to s2 fails cleanly too, the volume untouched.
        self.write(self.volume, 0, MiB, 0x66)
        ref_now = self.reference(self.volume, 'now')
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.revert_to_snapshot, self.ctx,
                                self.volume, self.s2)
        self.assertIn(self.volume.id, str(exc))
        self.assertSameContent(ref_now, self.volume_path(self.volume))

    def test_stray_complete_snapshot_file_is_not_removed(self):
        stray = os.path.join(self.snap_dir(self.volume),
                             'snapshot-%s.qcow2' % (
                                 '00000000-0000-4000-8000-000000000000'))
        base.sh('cp', self.snap_path(self.volume, self.s1), stray)
        part = stray + '.part'
        base.sh('cp', self.snap_path(self.volume, self.s1), part)
        self.write(self.volume, 3 * MiB, MiB, 0x13)
        self.create_snapshot(self.volume)
        # The partial copy went; the complete file is left to the operator.
        self.assertFalse(os.path.exists(part))
        self.assertTrue(os.path.exists(stray))
        # Deleting every snapshot keeps the document while a file remains.
        for snap in (self.s1, self.s2):
            self.delete_snapshot(snap)
        self.assertTrue(os.path.exists(self.doc))


class ServiceKilledMidCopy(base.FunctionalTestCase):
    """cinder-volume killed while its storage daemon copies.

    The daemon is daemonized: it outlives the service and keeps the
    volume's write lock. A separate Python process stands in for the
    service here (killed with SIGKILL), marking the daemon as the test
    driver's service does; the next operation on the volume must stop
    the orphan and succeed.
    """

    def test_orphan_daemon_is_stopped_by_the_next_operation(self):
        self.check_orphan_stopped(mark=True)

    def test_daemon_of_an_older_driver_is_stopped_too(self):
        # Drivers before the owner marks started daemons without one.
        self.check_orphan_stopped(mark=False)

    def check_orphan_stopped(self, mark):
        import subprocess
        import sys
        volume = self.create_volume()
        self.write(volume, 0, 2 * MiB, 0x10)
        s1 = self.create_snapshot(volume)
        self.write(volume, 4 * MiB, 32 * MiB, 0x20)
        ref = self.reference(volume, 'now')
        part = os.path.join(self.snap_dir(volume),
                            'snapshot-00000000-0000-4000-8000-00000000000a'
                            '.qcow2.part')
        service = subprocess.Popen([
            sys.executable, '-c',
            'import sys\n'
            'from incsnap_driver.qemu import offline\n'
            'from incsnap_driver.qemu import owner\n'
            'offline.snapshot(sys.argv[1], sys.argv[2], 1 << 30, 600,\n'
            '                 backing_file=sys.argv[3],\n'
            '                 source_bitmap=sys.argv[4],\n'
            '                 new_bitmap="incsnap-orphan-test",\n'
            '                 speed=4 << 20, owner=owner.current(\n'
            '                     sys.argv[5]) if sys.argv[5] else None)\n',
            self.volume_path(volume), part,
            'snapshot-%s.qcow2' % s1.id, 'incsnap-%s' % s1.id,
            self.driver.host if mark else ''],
            cwd=base.REPO)
        self.addCleanup(service.kill)
        deadline = time.monotonic() + 30
        while not (os.path.exists(part) and
                   os.stat(part).st_blocks * 512 > 2 * MiB):
            self.assertLess(time.monotonic(), deadline)
            self.assertIsNone(service.poll())
            time.sleep(0.02)
        service.send_signal(signal.SIGKILL)
        service.wait()
        orphan = find_daemon(self.volume_path(volume))
        # The next snapshot stops it (cleanly: the parent bitmap stays
        # whole), removes the partial file, and is incremental and right.
        s2 = self.create_snapshot(volume)
        self.assertFalse(os.path.exists('/proc/%d/cmdline' % orphan) and
                         open('/proc/%d/cmdline' % orphan).read())
        self.assertFalse(os.path.exists(part))
        self.assertEqual('incremental', s2.metadata['incsnap:kind'])
        self.assertSameContent(ref, self.snap_path(volume, s2))
        self.assertEqual(['incsnap-%s' % s2.id], self.bitmap_names(volume))


class KilledBeforeChainSaved(base.FunctionalTestCase):
    """cinder-volume killed between a snapshot's file and its record.

    The file is complete and named, the chain document does not record it
    yet (seen in Tempest against the all-in-one stack while another test
    killed cinder-volume).

    Cinder then marks the snapshot ``error`` and deletes it; the volume
    must stay usable: the delete removes that snapshot's file, snapshots
    go on, and nothing of it is left.
    """

    def setUp(self):
        super().setUp()
        self.volume = self.create_volume()
        self.write(self.volume, 0, MiB, 0x21)

    def snapshot_killed_before_save(self):
        """A snapshot whose process dies as it saves the chain document."""
        from cinder import objects

        from incsnap_driver import store

        snap = objects.Snapshot(
            context=self.ctx, volume_id=self.volume.id, status='creating',
            volume_size=1, volume_type_id=self.volume.volume_type_id,
            project_id='p', user_id='u', metadata={})
        snap.create()
        real_save = store.ChainStore.save

        def save(store_self, chain):
            if chain.get(snap.id) is not None:
                raise SystemExit('killed')  # the process dies here
            return real_save(store_self, chain)

        self.patch(store.ChainStore, 'save', save)
        self.assertRaises(SystemExit, self.driver.create_snapshot, snap)
        self.patch(store.ChainStore, 'save', real_save)
        self.assertTrue(os.path.exists(self.snap_path(self.volume, snap)))
        snap.status = 'error'  # what Cinder's init_host does
        snap.save()
        return snap

    def assertVolumeUsable(self, lost):
        # Deleting the failed snapshot removes its file.
        self.delete_snapshot(lost)
        self.assertFalse(os.path.exists(self.snap_path(self.volume, lost)))
        # Snapshots go on, byte-exact.
        self.write(self.volume, MiB, MiB, 0x22)
        ref = self.reference(self.volume, 'next')
        snap = self.create_snapshot(self.volume)
        self.assertSameContent(ref, self.snap_path(self.volume, snap))
        self.delete_snapshot(snap)
        self.driver.delete_volume(self.volume)
        self.assertEqual([], self.share_files())

    def test_first_snapshot_killed_before_chain_saved(self):
        lost = self.snapshot_killed_before_save()
        self.assertVolumeUsable(lost)

    def test_later_snapshot_killed_before_chain_saved(self):
        first = self.create_snapshot(self.volume)
        lost = self.snapshot_killed_before_save()
        self.delete_snapshot(first)
        self.assertVolumeUsable(lost)


class ServiceKilledMidRevert(base.FunctionalTestCase):
    """The whole service process killed while a revert copies back.

    The test process forks: the child is the service, running the real
    driver's revert_to_snapshot; the parent kills it with SIGKILL once
    the revert's journal is written (the copy-back is under way), then
    "restarts the service" (a new driver object) and runs the next
    operation on the volume.
    """

    backend_options = {'volume_copy_bps_limit': 8 * MiB}

    def test_revert_rolled_back_after_service_killed(self):
        volume = self.create_volume()
        self.write(volume, 0, 32 * MiB, 0x11)
        s1 = self.create_snapshot(volume)
        self.write(volume, 0, 32 * MiB, 0x99)
        ref_junk = self.reference(volume, 'junk')
        doc = os.path.join(self.snap_dir(volume), 'chain.json')
        undo = os.path.join(self.snap_dir(volume),
                            'revert-%s.undo.qcow2' % s1.id)
        pid = os.fork()
        if pid == 0:  # the service
            try:
                self.driver.revert_to_snapshot(self.ctx, volume, s1)
            finally:
                os._exit(0)
        deadline = time.monotonic() + 60
        while True:
            with open(doc) as f:
                if '"journal": {' in f.read():
                    break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        time.sleep(0.5)  # let the copy-back write some clusters
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        self.assertTrue(os.path.exists(undo))
        find_daemon(self.volume_path(volume))  # left running, orphaned
        # "Restart": a new driver of the same service; the next operation
        # recovers first.
        restarted = self.make_driver(host=self.driver.host,
                                     volume_copy_bps_limit=0)
        restarted.delete_snapshot(self.new_snapshot(volume))
        self.assertFalse(os.path.exists(undo))
        self.assertRaises(AssertionError, find_daemon,
                          self.volume_path(volume), timeout=1)
        with open(doc) as f:
            self.assertIn('"journal": null', f.read())
        # The volume is as it was before the revert; s1 is intact, and a
        # new revert works.
        self.assertSameContent(ref_junk, self.volume_path(volume))
        restarted.revert_to_snapshot(self.ctx, volume, s1)
        self.assertDifferentContent(ref_junk, self.volume_path(volume))
        self.assertSameContent(self.snap_path(volume, s1),
                               self.volume_path(volume))
