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
"""The volume service killed mid-operation, restarted: recovered at start.

The killed service is a real service process (Cinder's VolumeManager
after its ``init_host``, running the request as its RPC endpoint would;
tests/functional/service_child.py), SIGKILLed while its QEMU tool copies;
the tool outlives it, as it does in production. The restarted service is
the real ``cinder-volume`` program on the same cinder.conf (its RPC
transport is oslo.messaging's in-process ``fake:/``: no request reaches
it). Right after its start-up scan logged its summary, before any
request on the volume: no QEMU tool of ours on the volume, no partial
file, no journal, the volume's bytes those from before or after the
operation, a libvirt domain starts on it, Cinder's statuses settled; then
the next snapshot is correct.
"""

import os
import time

from cinder import objects
import testtools.content

from tests.common import domains
from tests.common import images
from tests.common import processes
from tests.functional import base
from tests.functional import services

MiB = base.MiB
SLOW = 8 * MiB  # bytes per second: a 32 MiB copy runs about 4 s


class RestartTestCase(base.FunctionalTestCase):
    """A backend whose service is killed and restarted as processes."""

    service_options = {}

    def setUp(self):
        super().setUp()
        domains.ensure_libvirtd()
        self.let_qemu_reach_the_export()
        self.domains = domains.Domains(self.addCleanup, 'incsnap-rec')
        self.service = services.VolumeService(
            self, self.backend, self.backend_config(**self.service_options))
        # The test's own requests, as the same service.
        self.fast = self.driver

    # -- the service ---------------------------------------------------------

    def kill_during(self, operation, ids, under_way, copy_speed=SLOW):
        """Run ``operation`` in a service process, SIGKILLed once under way.

        ``under_way()`` says when; ``copy_speed``: the process's
        ``volume_copy_bps_limit``.
        """
        proc = self.service.run_operation(operation, ids, copy_speed)
        self.service.read_line(proc, 'ready')
        deadline = time.monotonic() + 60
        while not under_way():
            self.assertIsNone(proc.poll(), 'the service ended early')
            self.assertLess(time.monotonic(), deadline, 'never under way')
            time.sleep(0.02)
        self.service.kill(proc)

    def restart(self):
        """The real cinder-volume; returns it once its scan is done."""
        proc = self.service.start()
        summary = self.service.wait_log(proc, services.SUMMARY)
        self.addCleanup(self.service.stop, proc)
        # One start: the launcher did not have to start it again.
        self.assertEqual(1, len(self.service.log_lines(
            proc, 'Starting cinder-volume node')), proc.log)
        proc.summary = summary[-1]
        return proc

    def recovery_lines(self, proc, volume):
        return self.service.log_lines(
            proc, 'incsnap start-up recovery: volume %s' % volume.id)

    # -- what must hold right after the start ------------------------------

    def assertNoToolOn(self, *paths):
        for path in paths:
            self.assertEqual([], processes.qemu_holders(path), path)

    def assertNoPartialFile(self):
        leftovers = [n for n in self.share_files()
                     if n.endswith(('.part', '.undo.qcow2', '.tmp'))]
        self.assertEqual([], leftovers)

    def assertNoJournal(self, volume):
        doc = os.path.join(self.snap_dir(volume), 'chain.json')
        if os.path.exists(doc):
            with open(doc) as f:
                self.assertIn('"journal": null', f.read())

    def assertAttachable(self, volume):
        """A VM starts on the volume (QEMU takes its write lock)."""
        domain = self.domains.start([os.path.join(
            self.export, os.path.basename(self.volume_path(volume)))])
        self.assertTrue(domain.is_active())
        domain.destroy(graceful=True)

    def status(self, cls, resource_id):
        found = cls.get_by_id(self.ctx, resource_id)
        self.addDetail('%s-%s' % (cls.__name__, resource_id),
                       testtools.content.text_content('%s %s at %s' % (
                           found.status, found.updated_at, time.time())))
        return found.status

    def wait_status(self, cls, resource_id, wanted, timeout=60):
        deadline = time.monotonic() + timeout
        while self.status(cls, resource_id) != wanted:
            self.assertLess(time.monotonic(), deadline,
                            '%s %s is %s, not %s' % (
                                cls.__name__, resource_id,
                                self.status(cls, resource_id), wanted))
            time.sleep(0.2)

    def assertNextSnapshotCorrect(self, volume, kind=None):
        self.write(volume, 40 * MiB, MiB, 0x5a)
        ref = self.reference(volume, 'next')
        snap = self.create_snapshot(volume, driver=self.fast)
        self.assertSameContent(ref, self.snap_path(volume, snap))
        if kind:
            self.assertEqual(kind, snap.metadata['incsnap:kind'],
                             snap.metadata)
        return snap


class KilledMidOperation(RestartTestCase):

    def test_killed_mid_revert(self):
        volume = self.create_volume()
        self.write(volume, 0, 32 * MiB, 0x11)
        s1 = self.create_snapshot(volume, driver=self.fast)
        after = self.reference(volume, 'after')       # what s1 holds
        self.write(volume, 0, 32 * MiB, 0x99)
        before = self.reference(volume, 'before')     # the junk
        doc = os.path.join(self.snap_dir(volume), 'chain.json')

        def copying_back():
            with open(doc) as f:
                return '"journal": {' in f.read()

        self.kill_during('revert', [volume.id, s1.id], copying_back)
        time.sleep(0.5)  # the orphan copies some clusters back
        undo = os.path.join(self.snap_dir(volume),
                            'revert-%s.undo.qcow2' % s1.id)
        self.assertTrue(os.path.exists(undo))
        self.assertNotEqual([], processes.qemu_holders(
            self.volume_path(volume)))

        service = self.restart()
        self.assertNoToolOn(self.volume_path(volume))
        self.assertNoPartialFile()
        self.assertNoJournal(volume)
        # Rolled back: the volume holds its bytes from before the revert.
        self.assertSameContent(before, self.volume_path(volume))
        self.assertSameContent(after, self.snap_path(volume, s1))
        self.assertEqual('available', self.status(objects.Volume, volume.id))
        self.assertEqual('available', self.status(objects.Snapshot, s1.id))
        line = ' '.join(self.recovery_lines(service, volume))
        self.assertIn('rolled back the interrupted revert', line)
        self.assertIn('volume %s reverting -> available' % volume.id, line)
        self.assertIn('snapshot %s restoring -> available' % s1.id, line)
        self.assertIn('1 recovered', service.summary)
        self.assertAttachable(volume)
        self.service.stop(service)
        # The chain goes on from s1, and a new revert works.
        s2 = self.assertNextSnapshotCorrect(volume, kind='incremental')
        self.write(volume, 0, MiB, 0x77)
        self.fast.revert_to_snapshot(self.ctx, volume, s2)
        self.assertSameContent(self.snap_path(volume, s2),
                               self.volume_path(volume))

    def test_killed_mid_full_snapshot(self):
        volume = self.create_volume()
        self.write(volume, 0, 32 * MiB, 0x21)
        ref = self.reference(volume, 'now')
        snap = self.new_snapshot(volume)
        part = os.path.join(self.snap_dir(volume),
                            'snapshot-%s.qcow2.part' % snap.id)
        self.kill_during('snapshot', [snap.id], lambda: (
            os.path.exists(part) and os.stat(part).st_blocks * 512 > 4 * MiB))
        self.assertNotEqual([], processes.qemu_holders(
            self.volume_path(volume)))

        service = self.restart()
        self.assertNoToolOn(self.volume_path(volume))
        self.assertNoPartialFile()
        self.assertSameContent(ref, self.volume_path(volume))
        # Cinder's own start-up clean-up (its workers table) sets error.
        self.wait_status(objects.Snapshot, snap.id, 'error')
        self.assertIn('stopped qemu-storage-daemon',
                      ' '.join(self.recovery_lines(service, volume)))
        self.assertAttachable(volume)
        self.service.stop(service)
        first = self.assertNextSnapshotCorrect(volume, kind='full')
        self.assertEqual('first', first.metadata['incsnap:full_reason'])
        # The interrupted snapshot's bitmap went with the next snapshot.
        self.assertEqual(['incsnap-%s' % first.id],
                         images.bitmap_names(self.volume_path(volume)))
        self.delete_snapshot(snap, driver=self.fast)
        self.assertEqual(sorted(['volume-%s' % volume.id,
                                 'volume-%s.incsnap/chain.json' % volume.id,
                                 'volume-%s.incsnap/snapshot-%s.qcow2'
                                 % (volume.id, first.id)]),
                         self.share_files())


class KilledThroughRootHelper(RestartTestCase):
    """The service runs its QEMU tools through the root helper."""

    service_options = {'nas_secure_file_operations': 'false',
                       'nas_secure_file_permissions': 'false'}

    def test_killed_mid_volume_from_snapshot(self):
        volume = self.create_volume()
        self.write(volume, 0, 32 * MiB, 0x31)
        s1 = self.create_snapshot(volume, driver=self.fast)
        ref = self.reference(volume, 's1')
        new = self.volume_record(volume, snapshot_id=s1.id)
        new_path = os.path.join(self.mount_point, 'volume-%s' % new.id)
        part = new_path + '.part'
        # Slower: the copy must outlast the restart (a qemu-img convert
        # ends by itself when done, a storage daemon waits).
        self.kill_during('from-snapshot', [new.id, s1.id], lambda: (
            os.path.exists(part) and os.stat(part).st_blocks * 512 > MiB),
            copy_speed=SLOW // 8)
        convert = processes.find_process(part, 'qemu-img', timeout=1)
        self.assertEqual(0, os.stat('/proc/%d' % convert).st_uid)  # root

        self.assertTrue(processes.running(convert))  # it outlived us
        service = self.restart()
        self.assertNoToolOn(part, self.snap_path(volume, s1),
                            self.volume_path(volume))
        self.assertFalse(processes.running(convert))
        self.assertNoPartialFile()
        self.assertFalse(os.path.exists(new_path))
        self.wait_status(objects.Volume, new.id, 'error')
        self.assertIn('stopped qemu-img %d' % convert,
                      ' '.join(self.recovery_lines(service, new) +
                               self.recovery_lines(service, volume)))
        self.assertSameContent(ref, self.volume_path(volume))
        self.assertSameContent(ref, self.snap_path(volume, s1))
        self.assertAttachable(volume)
        self.service.stop(service)
        self.assertNextSnapshotCorrect(volume, kind='incremental')
        # The failed volume goes; a new try works.
        self.fast.delete_volume(new)
        again = self.volume_record(volume)
        again.update(self.fast.create_volume_from_snapshot(again, s1))
        self.addCleanup(self.fast.delete_volume, again)
        self.assertSameContent(ref, self.volume_path(again))


class StuckStatuses(RestartTestCase):
    """Snapshots a dead service left ``deleting``: the share decides."""

    def test_deleting_snapshots_follow_the_share(self):
        volume = self.create_volume()
        self.write(volume, 0, MiB, 0x41)
        s1 = self.create_snapshot(volume, driver=self.fast)
        self.write(volume, MiB, MiB, 0x42)
        s2 = self.create_snapshot(volume, driver=self.fast)
        self.write(volume, 2 * MiB, MiB, 0x43)
        s3 = self.create_snapshot(volume, driver=self.fast)
        # s3: the service died before its driver call (file intact); s2:
        # after the driver hid it (s3 depends on it).
        self.fast.delete_snapshot(s2)
        for snap in (s2, s3):
            snap.status = 'deleting'
            snap.save()
        service = self.restart()
        self.assertEqual('available', self.status(objects.Snapshot, s3.id))
        self.assertEqual('error_deleting',
                         self.status(objects.Snapshot, s2.id))
        self.assertEqual('available', self.status(objects.Snapshot, s1.id))
        line = ' '.join(self.recovery_lines(service, volume))
        self.assertIn('snapshot %s deleting -> available' % s3.id, line)
        self.assertIn('snapshot %s deleting -> error_deleting' % s2.id, line)
        self.assertIn('2 Cinder status(es) set', service.summary)
        self.service.stop(service)
        # Deleting both again finishes the job; s1 still reads right.
        self.delete_snapshot(s3, driver=self.fast)
        self.delete_snapshot(s2, driver=self.fast)
        self.assertEqual(['chain.json', 'snapshot-%s.qcow2' % s1.id],
                         self.files_in(self.snap_dir(volume)))

    def test_reverting_without_trace_is_left_to_the_admin(self):
        # The revert's request may still wait in the service's queue:
        # setting the volume available would race with it.
        volume = self.create_volume()
        snap = self.create_snapshot(volume, driver=self.fast)
        volume.status = 'reverting'
        volume.save()
        snap.status = 'restoring'
        snap.save()
        service = self.restart()
        self.assertEqual('reverting', self.status(objects.Volume, volume.id))
        self.assertEqual('restoring', self.status(objects.Snapshot, snap.id))
        line = ' '.join(self.recovery_lines(service, volume))
        self.assertIn('may still be queued', line)
        self.assertIn('settle it with: openstack volume set --state '
                      'available %s' % volume.id, line)
        self.assertIn('settle it with: openstack volume snapshot set '
                      '--state available %s' % snap.id, line)
        self.assertIn('2 left to the admin', service.summary)


class OthersAreLeftAlone(RestartTestCase):
    """What is not this service's to recover is not touched."""

    def daemon_on(self, volume, owner):
        from incsnap_driver.qemu import daemon
        qsd = daemon.StorageDaemon([{
            'node-name': 'held', 'driver': 'qcow2', 'read-only': False,
            'file': {'driver': 'file',
                     'filename': self.volume_path(volume)}}], owner=owner)
        qsd.start()
        self.addCleanup(qsd.stop, False)
        return qsd

    def test_tools_of_other_services_and_live_processes(self):
        import subprocess

        from incsnap_driver.qemu import owner
        other_node = self.create_volume()
        live_starter = self.create_volume()
        # A daemon of another node's service on this machine, its starter
        # gone; one of this service whose starter still runs.
        dead = owner.Owner('incsnap-test@elsewhere', 999999999, 1)
        foreign = self.daemon_on(other_node, dead)
        sleeper = subprocess.Popen(['sleep', '600'])
        self.addCleanup(sleeper.wait)
        self.addCleanup(sleeper.kill)
        mine_live = self.daemon_on(live_starter, owner.Owner(
            self.driver.host, sleeper.pid,
            processes.start_time(sleeper.pid)))
        service = self.restart()
        self.assertTrue(processes.running(foreign.pid))
        self.assertTrue(processes.running(mine_live.pid))
        self.assertIn('left qemu-storage-daemon %d running (started by '
                      'service incsnap-test@elsewhere' % foreign.pid,
                      ' '.join(self.recovery_lines(service, other_node)))
        self.assertIn('left qemu-storage-daemon %d running (started by live '
                      'process %d of this service)'
                      % (mine_live.pid, sleeper.pid),
                      ' '.join(self.recovery_lines(service, live_starter)))

    def test_a_volume_whose_lock_is_held_is_left_to_the_holder(self):
        from cinder import coordination
        volume = self.create_volume()
        part = os.path.join(self.snap_dir(volume),
                            'snapshot-00000000-0000-4000-8000-00000000000b'
                            '.qcow2.part')
        os.makedirs(self.snap_dir(volume), exist_ok=True)
        open(part, 'w').close()
        lock = coordination.COORDINATOR.get_lock('nfs-%s' % volume.id)
        lock.acquire()
        try:
            service = self.restart()
        finally:
            lock.release()
        self.assertTrue(os.path.exists(part))
        self.assertIn('1 busy', service.summary)
        # The next operation on it, under its lock, removes the leftover.
        self.assertNextSnapshotCorrect(volume)
        self.assertFalse(os.path.exists(part))
