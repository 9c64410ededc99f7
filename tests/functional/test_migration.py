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
"""Live migration between the two compute hosts, and an unreachable one.

The guest is real (tools/build-guest) and writes files while it moves;
the driver follows the attachment's host to the destination's libvirtd.
"""

import hashlib
import os
import sys
import threading
import time
import uuid

import eventlet
import libvirt

from tests.common import compute
from tests.common import guest
from tests.functional import guest_base

MiB = guest_base.MiB

WRITER = ('i=0; while [ ! -e /run/stop ] && [ $i -lt 4000 ]; do '
          'head -c 65536 /dev/urandom > %s/w$i; i=$((i+1)); done; sync; '
          'touch /run/stopped' % guest.MOUNT)


class TestLiveMigration(guest_base.GuestTestCase):

    backend_options = {'snapshot_delta_max': 16}

    def writer_files(self, agent):
        return len([n for n in agent.files() if n.startswith('w')])

    def stop_writer(self, agent):
        agent.sh('touch /run/stop; while [ ! -e /run/stopped ]; do '
                 'sleep 0.1; done; sync')

    def test_migrate_while_writing_then_incremental_and_back(self):
        volume, vm, att, agent, _files, s1 = self.running_guest()
        # The guest writes files while it moves to compute2.
        agent.spawn(WRITER)
        time.sleep(1)
        before = self.writer_files(agent)
        seconds, agent = self.migrate(vm, 'compute2')
        sys.stderr.write('live migration compute1 -> compute2 with the '
                         'guest writing: %.1f s\n' % seconds)
        self.assertGreater(self.writer_files(agent), before)
        self.stop_writer(agent)
        att = self.move_attachment(volume, att, 'compute2')
        files = agent.files()
        # Next snapshot: incremental from s1, through compute2's libvirtd,
        # which had s1's checkpoint redefined from the chain document.
        s2 = self.snapshot(volume)
        self.assertEqual(('incremental', None), self.kinds([s2])[0])
        self.assertEqual(s1.id, s2.metadata['incsnap:parent'])
        self.assertEqual(['incsnap-%s' % s2.id], self.checkpoints(vm))
        self.assertSnapshotFiles(volume, s2, files)
        # Back to compute1 (the guest idle), a file, snapshot again.
        seconds, agent = self.migrate(vm, 'compute1')
        sys.stderr.write('live migration compute2 -> compute1: %.1f s\n'
                         % seconds)
        att = self.move_attachment(volume, att, 'compute1')
        files['b'] = agent.write_file('b', 128)
        s3 = self.snapshot(volume)
        self.assertEqual(('incremental', None), self.kinds([s3])[0])
        self.assertEqual(s2.id, s3.metadata['incsnap:parent'])
        self.assertEqual(['incsnap-%s' % s3.id], self.checkpoints(vm))
        self.assertSnapshotFiles(volume, s3, files)
        self.assertEqual(['online'] * 3,
                         [r['mode'] for r in self.chain_doc(volume)[
                             'snapshots']])
        # What the guest saw is in snapshot 3: every file, fsck clean.
        self.stop(vm, agent)
        self.detach(volume, att)
        self.assertFiles(self.volume_from(s3, volume), files)

    def test_migration_requested_during_backup_job(self):
        volume = self.create_volume(size=1)
        vm = str(uuid.uuid4())
        self.attach(volume, vm, 'compute1')
        agent = self.boot(vm, volume, 'compute1')
        agent.format_and_mount()
        self.snapshot(volume)
        # 64 MiB to copy (zeroes, but written as data: QEMU does not look
        # for zeroes here), read at 512 KiB/s from the first byte on: the
        # job runs for minutes, until the test lifts the limit. No race
        # with a job that could end before it is slowed down.
        agent.sh('dd if=/dev/zero of=%s/big bs=1M count=64 && sync'
                 % guest.MOUNT, timeout=300)
        dom = self.domain(vm)
        dom.throttle_reads(512 * 1024)
        snap, thread, outcome = self.spawn_snapshot(volume)
        refused = None
        try:
            before = self.running_backup(dom)
            # Nova's live migration, while the backup job copies.
            try:
                self.migrate(vm, 'compute2')
            except libvirt.libvirtError as exc:
                refused = exc
            # The job ran all along: still running, not done yet.
            after = self.running_backup(dom, timeout=0)
            self.assertLess(after['offset'], after['len'])
            self.assertGreaterEqual(after['offset'], before['offset'])
        finally:
            dom.set_read_limit(0)
            with eventlet.Timeout(300):
                thread.wait()
        # libvirt refuses the migration: the backup job holds the domain.
        self.assertIsNotNone(refused, 'libvirt migrated a domain whose '
                             'backup job was running')
        sys.stderr.write('migration during a backup job: %s\n' % refused)
        self.assertEqual('compute1', self.where[vm])
        self.assertTrue(self.domain(vm).is_active())
        # The snapshot completed, incremental, and holds the guest's file.
        self.assertEqual({'done': True}, outcome)
        record = self.chain_doc(volume)['snapshots'][-1]
        self.assertEqual((snap.id, 'incremental'),
                         (record['id'], record['kind']))
        self.assertSnapshotFiles(volume, snap, {
            'big': hashlib.sha256(bytes(64 * MiB)).hexdigest()})
        # Once the job is over the migration goes through.
        self.migrate(vm, 'compute2')

    def test_snapshot_before_nova_moved_the_attachment(self):
        """The VM runs on compute2, its attachment still names compute1.

        Between the end of a live migration and Nova's update of the
        attachment, the driver finds no domain on compute1 and would take
        the snapshot offline; QEMU's lock on the image (held by the VM on
        compute2) refuses qemu-storage-daemon: the snapshot fails, nothing
        is written, the running VM's disk is untouched.
        """
        from cinder import exception
        from cinder import objects
        volume, vm, att, agent, files, s1 = self.running_guest()
        _seconds, agent = self.migrate(vm, 'compute2')
        snap = self.new_snapshot(volume)
        error = self.assertRaises(
            exception.VolumeBackendAPIException, self.driver.create_snapshot,
            objects.Snapshot.get_by_id(self.ctx, snap.id))
        sys.stderr.write('snapshot with a stale attachment host: %s\n'
                         % error)
        self.assertIn(snap.id, str(error))
        self.assertIn('Failed to get "write" lock', str(error))
        self.assertIn('no domain runs it on compute1', str(error))
        self.assertEqual(sorted(['chain.json', 'snapshot-%s.qcow2' % s1.id]),
                         self.files_in(self.snap_dir(volume)))
        # Nova moves the attachment: the snapshot is taken on compute2,
        # incremental, with the guest's files.
        self.move_attachment(volume, att, 'compute2')
        files['b'] = agent.write_file('b', 128)
        s2 = self.snapshot(volume)
        self.assertEqual(('incremental', None), self.kinds([s2])[0])
        self.assertSnapshotFiles(volume, s2, files)

    def test_snapshot_requested_during_migration(self):
        """Nova migrates (slowly: 1 MiB/s), a snapshot is asked for."""
        from cinder import exception
        volume, vm, att, agent, files, s1 = self.running_guest()
        source = self.domain(vm).lookup()
        outcome = {}

        def migrate():
            try:
                outcome['seconds'] = compute.migrate(
                    source, 'compute2', self.hosts,
                    params={libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 1})
            except libvirt.libvirtError as exc:
                outcome['error'] = exc

        mover = threading.Thread(target=migrate)
        mover.start()
        try:
            deadline = time.monotonic() + 60
            idle = libvirt.VIR_DOMAIN_JOB_NONE
            while source.jobStats(0).get('type') == idle:
                self.assertLess(time.monotonic(), deadline,
                                'the migration did not start')
                time.sleep(0.1)
            log = self.hosts.libvirtd_log('compute1')
            log_at = os.path.getsize(log)
            snap, thread, outcome_snap = self.spawn_snapshot(volume)
            # Until the snapshot's call waits for the migration's job...
            waiting = 'name=%s)' % self.domain(vm).name
            deadline = time.monotonic() + 120
            while not any('Waiting for' in line and waiting in line
                          for line in self.log_lines(log, log_at)):
                self.assertLess(time.monotonic(), deadline,
                                'the snapshot never waited for the domain')
                eventlet.sleep(0.2)
            # ... then the migration may finish.
            source.migrateSetMaxSpeed(10000, 0)
        finally:
            mover.join(300)
        with eventlet.Timeout(300):
            thread.wait()
        error = outcome_snap.get('error')
        self.assertIsInstance(error, exception.VolumeBackendAPIException)
        sys.stderr.write('snapshot during a migration: %s\n' % error)
        self.assertNotIn('error', outcome)
        self.assertIn(snap.id, str(error))
        self.assertEqual(sorted(['chain.json', 'snapshot-%s.qcow2' % s1.id]),
                         self.files_in(self.snap_dir(volume)))
        # The VM is on compute2 now; with the attachment moved, the retry
        # is incremental there.
        dom = self.domains['compute2'].adopt(vm, self.specs[vm])
        self.where[vm] = 'compute2'
        self.move_attachment(volume, att, 'compute2')
        agent = guest.Agent(dom)
        files['b'] = agent.write_file('b', 128)
        s2 = self.snapshot(volume)
        self.assertEqual(('incremental', None), self.kinds([s2])[0])
        self.assertEqual(s1.id, s2.metadata['incsnap:parent'])
        self.assertSnapshotFiles(volume, s2, files)

    @staticmethod
    def log_lines(path, offset):
        with open(path, errors='replace') as f:
            f.seek(offset)
            return f.read().splitlines()

    def running_backup(self, dom, timeout=60):
        """The domain's backup job once QEMU runs it (AssertionError if none).

        Green sleeps: the snapshot's green thread starts it meanwhile.
        """
        deadline = time.monotonic() + timeout
        while True:
            jobs = dom.backup_jobs()
            if jobs:
                self.assertEqual('running', jobs[0]['status'], jobs[0])
                return jobs[0]
            self.assertLess(time.monotonic(), deadline,
                            'no backup job ran within %d s' % timeout)
            eventlet.sleep(0.05)


class TestUnreachableHost(guest_base.GuestTestCase):
    """A compute host whose libvirtd does not answer."""

    def test_snapshot_error_names_host_and_uri_volume_usable(self):
        from cinder import exception
        template = self.hosts.uri_template.replace(
            'qemu+tls://', 'qemu+tls://admin:s3cret@')
        driver = self.make_driver(incsnap_libvirt_uri=template)
        volume = self.create_volume(size=1)
        self.write(volume, 0, MiB, 0x5a)
        before = self.reference(volume, 'before')
        # Attached on a host where no libvirtd listens.
        att = self.attach(volume, str(uuid.uuid4()), '127.0.0.9')
        snap = self.new_snapshot(volume)
        from cinder import objects
        error = self.assertRaises(
            exception.VolumeBackendAPIException, driver.create_snapshot,
            objects.Snapshot.get_by_id(self.ctx, snap.id))
        message = str(error)
        self.assertIn(snap.id, message)
        self.assertIn('compute host 127.0.0.9', message)
        self.assertIn('qemu+tls://admin:***@127.0.0.9/system', message)
        self.assertNotIn('s3cret', message)
        # Nothing written; the volume reads as before and serves the next
        # snapshot once the host is right again.
        self.assertEqual(['chain.json'], self.files_in(self.snap_dir(volume)))
        self.assertSameContent(self.volume_path(volume), before)
        self.detach(volume, att)
        s1 = self.snapshot(volume, driver=driver)
        self.assertEqual(('full', 'first'), self.kinds([s1])[0])
        self.assertSameContent(self.snap_path(volume, s1), before)
