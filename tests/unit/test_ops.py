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
"""The operations' plain parts, on real (temporary) directories.

What needs QEMU (the copies, the jobs) is covered by tests/functional
through the real driver; here: the checks every operation makes first,
the recovery of leftovers, the snapshot metadata and progress, and what
Cinder sees of a failure.
"""

import json
import os
import threading
import time
from unittest import mock

from cinder import exception
import fixtures
from oslo_concurrency import processutils
import testtools

from incsnap_driver import chain as chain_mod
from incsnap_driver import driver
from incsnap_driver import interrupted
from incsnap_driver import layout
from incsnap_driver.ops import backend as backend_mod
from incsnap_driver.ops import copies
from incsnap_driver.ops import errors
from incsnap_driver.ops import snapshot
from incsnap_driver.ops import startup
from incsnap_driver.ops import volume
from incsnap_driver import options
from incsnap_driver import store

VOL = '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'
SA = '11111111-1111-4111-8111-111111111111'
SB = '22222222-2222-4222-8222-222222222222'


def _backend():
    return backend_mod.Backend(settings=options.Settings(),
                               execute=processutils.execute)


class _Share(testtools.TestCase):
    """A share folder holding one volume file."""

    def setUp(self):
        super().setUp()
        self.share = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.share, 'volume-%s' % VOL)
        self.snap_dir = layout.snapshot_dir(self.path)
        open(self.path, 'w').close()

    def touch(self, name):
        os.makedirs(self.snap_dir, exist_ok=True)
        path = os.path.join(self.snap_dir, name)
        open(path, 'w').close()
        return path


class VolumeFilesTest(_Share):

    def test_paths_of_a_volume_on_its_share(self):
        files = volume.VolumeFiles.checked(VOL, self.path)
        self.assertEqual(self.snap_dir, files.snap_dir)
        self.assertEqual('volume-%s' % VOL, files.name)
        self.assertEqual([], files.folder_names())

    def test_snapshot_folder_symlink_is_refused(self):
        elsewhere = self.useFixture(fixtures.TempDir()).path
        os.symlink(elsewhere, self.snap_dir)
        exc = self.assertRaises(errors.BackendFailed,
                                volume.VolumeFiles.checked, VOL, self.path)
        self.assertEqual('Volume %s: %s is a symbolic link or leads out of '
                         'the share; refusing to use it.'
                         % (VOL, self.snap_dir), str(exc))

    def test_volume_file_symlink_is_refused(self):
        os.unlink(self.path)
        os.symlink('/etc/passwd', self.path)
        exc = self.assertRaises(errors.BackendFailed,
                                volume.VolumeFiles.checked, VOL, self.path)
        self.assertIn(self.path, str(exc))


class VolumeContextTest(_Share):

    def open(self, **kwargs):
        return volume.VolumeContext.open(_backend(), VOL, self.path,
                                         **kwargs)

    def save(self, chain):
        store.ChainStore(self.snap_dir).save(chain)

    def test_no_document_no_snapshot_is_an_empty_chain(self):
        context = self.open()
        self.assertEqual([], context.chain.snapshots)
        self.assertFalse(context.store.exists())

    def test_leftovers_go_complete_files_stay(self):
        self.save(chain_mod.Chain(volume_id=VOL))
        part = self.touch(layout.part_file(SA))
        undo = self.touch(layout.undo_file(SA))
        tmp = self.touch('.chain.abc.tmp')
        stray = self.touch(layout.snapshot_file(SB))
        revert_part = layout.revert_file(self.path)
        new_part = layout.new_volume_part(self.path)
        for path in (revert_part, new_part):
            open(path, 'w').close()
        recovered = self.open().recovered
        for gone in (part, undo, tmp, revert_part, new_part):
            self.assertFalse(os.path.exists(gone), gone)
        self.assertTrue(os.path.exists(stray))
        self.assertEqual(sorted(os.path.basename(p) for p in (
            part, undo, tmp, revert_part, new_part)),
            sorted(recovered.removed))
        self.assertIn('removed ', recovered.describe())

    def test_journal_without_undo_file_is_cleared(self):
        self.save(chain_mod.Chain(
            volume_id=VOL, journal={'op': 'revert', 'snapshot': SA,
                                    'undo': layout.undo_file(SA)}))
        context = self.open()
        self.assertIsNone(context.chain.journal)
        with open(context.store.path) as f:
            self.assertIsNone(json.load(f)['journal'])

    def test_lost_document_with_snapshot_files_is_refused(self):
        snap = self.touch(layout.snapshot_file(SA))
        exc = self.assertRaises(errors.BackendFailed, self.open)
        self.assertIn('the chain document %s is missing while 1 snapshot '
                      'file(s) exist (%s)'
                      % (os.path.join(self.snap_dir, store.DOCUMENT),
                         layout.snapshot_file(SA)), str(exc))
        self.assertTrue(os.path.exists(snap))

    def test_the_file_of_the_snapshot_being_deleted_does_not_count(self):
        self.touch(layout.snapshot_file(SA))
        context = self.open(deleting=SA)
        self.assertEqual([], context.chain.snapshots)

    def test_unreadable_document_names_volume_and_tool(self):
        os.makedirs(self.snap_dir)
        with open(os.path.join(self.snap_dir, store.DOCUMENT), 'w') as f:
            f.write('{not json')
        exc = self.assertRaises(errors.BackendFailed, self.open)
        self.assertIn('Volume %s: chain document' % VOL, str(exc))
        self.assertIn('Inspect it with incsnap-manage verify.', str(exc))

    def test_hidden_snapshot_has_no_file_to_use(self):
        self.save(chain_mod.Chain(volume_id=VOL, snapshots=[
            chain_mod.SnapshotRecord(id=SA, file=layout.snapshot_file(SA),
                                     kind=chain_mod.FULL, depth=1,
                                     hidden=True)]))
        context = self.open()
        exc = self.assertRaises(errors.SnapshotInvalid,
                                context.live_snapshot, SA)
        self.assertEqual('snapshot %s of volume %s has no file on the '
                         'backend' % (SA, VOL), str(exc))
        self.assertRaises(errors.SnapshotInvalid, context.live_snapshot, SB)


class SnapshotPartsTest(testtools.TestCase):

    def test_metadata_keeps_the_users_and_replaces_ours(self):
        record = chain_mod.SnapshotRecord(
            id=SB, file=layout.snapshot_file(SB), kind=chain_mod.INCREMENTAL,
            depth=2, parent=SA)
        existing = {'mine': 'x', 'incsnap:full_reason': 'first'}
        self.assertEqual({'mine': 'x', 'incsnap:kind': 'incremental',
                          'incsnap:chain_depth': '2',
                          'incsnap:parent': SA},
                         snapshot.metadata(existing, record))
        self.assertEqual({'mine': 'x', 'incsnap:full_reason': 'first'},
                         existing)

    def test_metadata_of_a_full_snapshot_says_why(self):
        record = chain_mod.SnapshotRecord(
            id=SA, file=layout.snapshot_file(SA), kind=chain_mod.FULL,
            depth=1, reason=chain_mod.REASON_DELTA_MAX)
        self.assertEqual({'incsnap:kind': 'full',
                          'incsnap:chain_depth': '1',
                          'incsnap:full_reason': 'delta_max'},
                         snapshot.metadata(None, record))

    def test_progress_is_throttled_but_100_always_goes(self):
        saved = []
        report = snapshot.throttled(saved.append, interval=3600)
        for percent in (0, 0, 5, 50, 100, 100):
            report(percent)
        self.assertEqual([0, 100], saved)

    def test_first_progress_goes_whatever_the_clock(self):
        # The monotonic clock counts from boot: right after it, a first
        # report must not look like one sent a moment ago.
        saved = []
        report = snapshot.throttled(saved.append, interval=3600)
        with mock.patch('time.monotonic', return_value=12.0):
            report(3)
            report(7)
        self.assertEqual([3], saved)

    def test_snapshot_id_must_name_a_file(self):
        exc = self.assertRaises(errors.SnapshotInvalid, snapshot.check_id,
                                '../../etc')
        self.assertIn("'../../etc' is not a UUID", str(exc))
        snapshot.check_id(SA)


class BackendTest(testtools.TestCase):

    def test_values_of_a_driver_set_up_through_the_root_helper(self):
        backend = backend_mod.make(
            options.Settings(), processutils.execute, as_root=True,
            secure_permissions=False, copy_speed='8388608', sparse=None,
            service='node1@incsnap')
        self.assertEqual({'run_as_root': True}, backend.execute.keywords)
        self.assertEqual(0o666, backend.file_mode)
        self.assertEqual(8388608, backend.copy_speed)
        self.assertFalse(backend.sparse)
        expected = None if os.geteuid() == 0 else os.geteuid()
        self.assertEqual(expected, backend.owner_uid)

    def test_no_owner_change_without_the_root_helper(self):
        backend = backend_mod.make(options.Settings(), processutils.execute,
                                   as_root=False, secure_permissions=True,
                                   copy_speed=None, sparse=True,
                                   service='node1@incsnap')
        self.assertIsNone(backend.owner_uid)
        self.assertEqual(0o660, backend.file_mode)
        self.assertEqual(0, backend.copy_speed)
        out, _err = backend.execute('echo', 'ran')
        self.assertEqual('ran\n', out)

    def test_tools_are_marked_with_this_process(self):
        backend = backend_mod.make(options.Settings(), processutils.execute,
                                   as_root=False, secure_permissions=True,
                                   copy_speed=None, sparse=True,
                                   service='node1@incsnap')
        owner = backend.owner()
        self.assertEqual(('node1@incsnap', os.getpid()),
                         (owner.service, owner.pid))
        self.assertIsNotNone(owner.start)

    def test_policy_per_zone(self):
        backend = backend_mod.Backend(
            settings=options.Settings(incremental=True, delta_max=4,
                                      delta_max_by_az={'az1': 2}),
            execute=processutils.execute)
        self.assertEqual(options.SnapshotPolicy(True, 2),
                         backend.policy('az1'))
        self.assertEqual(options.SnapshotPolicy(True, 4),
                         backend.policy('other'))

    def test_encrypted_volume_refused_before_any_file(self):
        share = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(share, 'volume-%s' % VOL)
        exc = self.assertRaises(errors.DriverFailed, copies.create_volume,
                                _backend(), VOL, path, 1, encrypted=True)
        self.assertEqual('Volume %s: encrypted volumes are not supported by '
                         'the incsnap driver.' % VOL, str(exc))
        self.assertEqual([], os.listdir(share))


class RunnerTest(testtools.TestCase):
    """Which commands skip the root helper (see Backend.runner)."""

    def setUp(self):
        super().setUp()
        self.calls = []
        self.folder = self.useFixture(fixtures.TempDir()).path
        self.file = os.path.join(self.folder, 'volume-%s' % VOL)
        with open(self.file, 'w'):
            pass

    def _backend(self, as_root):
        def execute(*cmd, **kwargs):
            self.calls.append((cmd, kwargs.get('run_as_root')))
            return '', ''
        return backend_mod.make(options.Settings(), execute,
                                as_root=as_root, secure_permissions=True,
                                copy_speed=None, sparse=True,
                                service='node1@incsnap')

    def test_readable_file_and_own_folder_run_as_this_process(self):
        backend = self._backend(as_root=True)
        backend.runner(reads=[self.file], creates_in=[self.folder])('true')
        self.assertEqual([(('true',), False)], self.calls)

    def test_what_this_process_cannot_reach_goes_through_the_helper(self):
        backend = self._backend(as_root=True)
        missing = os.path.join(self.folder, 'gone')
        backend.runner(reads=[missing])('true')
        backend.runner(creates_in=[missing])('true')
        self.assertEqual([(('true',), True), (('true',), True)], self.calls)

    def test_no_root_helper_configured_runs_as_before(self):
        backend = self._backend(as_root=False)
        self.assertIs(backend.execute, backend.runner(reads=[self.file]))

    def test_own_file_mode_set_without_the_helper(self):
        backend = self._backend(as_root=True)
        os.chmod(self.file, 0o644)
        backend.set_permissions(self.file)
        self.assertEqual([], self.calls)
        self.assertEqual(0o660, os.stat(self.file).st_mode & 0o777)


class CinderErrorsTest(testtools.TestCase):
    """Each failure reaches Cinder as the exception it raised before."""

    def check(self, failure, cinder_type, text):
        @driver._cinder_errors
        def operation():
            raise failure(text)

        exc = self.assertRaises(cinder_type, operation)
        self.assertIn(text, str(exc))
        self.assertIsInstance(exc.__cause__, failure)

    def test_backend_failure(self):
        self.check(errors.BackendFailed,
                   exception.VolumeBackendAPIException, 'copy failed')

    def test_invalid_snapshot(self):
        self.check(errors.SnapshotInvalid, exception.InvalidSnapshot,
                   'no file on the backend')

    def test_driver_failure(self):
        self.check(errors.DriverFailed, exception.VolumeDriverException,
                   'libvirt too old')

    def test_extend_failure(self):
        self.check(errors.ExtendFailed, exception.ExtendVolumeError,
                   'volume x: no space')

    def test_other_errors_pass_unchanged(self):
        @driver._cinder_errors
        def operation():
            raise processutils.ProcessExecutionError('qemu-img died')

        self.assertRaises(processutils.ProcessExecutionError, operation)


class StartupScanTest(testtools.TestCase):
    """The start-up scan on a share folder: what it finds, what it does.

    No QEMU tool runs here (tests/functional kills real ones); a
    threading lock stands in for Cinder's coordination lock (the
    functional tests take the real one).
    """

    VA, VB, VC, VD = (VOL, '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f1b',
                      '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f1c',
                      '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f1d')

    def setUp(self):
        super().setUp()
        self.share = self.useFixture(fixtures.TempDir()).path
        # A: clean, one snapshot; B: a partial snapshot copy; C: only a
        # new volume's partial copy; D: a revert's journal, no undo file.
        for vol in (self.VA, self.VB, self.VD):
            open(self.path(vol), 'w').close()
        self.save(self.VA, chain_mod.Chain(volume_id=self.VA, snapshots=[
            chain_mod.SnapshotRecord(id=SA, file=layout.snapshot_file(SA),
                                     kind=chain_mod.FULL, depth=1)]))
        self.touch(self.VA, layout.snapshot_file(SA))
        self.save(self.VB, chain_mod.Chain(volume_id=self.VB))
        self.touch(self.VB, layout.part_file(SB))
        open(layout.new_volume_part(self.path(self.VC)), 'w').close()
        self.save(self.VD, chain_mod.Chain(
            volume_id=self.VD, journal={'op': 'revert', 'snapshot': SA,
                                        'undo': layout.undo_file(SA)}))
        self.locked = set()
        self.applied = []

    def path(self, vol):
        return os.path.join(self.share, layout.volume_file(vol))

    def save(self, vol, chain):
        store.ChainStore(layout.snapshot_dir(self.path(vol))).save(chain)

    def touch(self, vol, name):
        open(os.path.join(layout.snapshot_dir(self.path(vol)), name),
             'w').close()

    def try_lock(self, volume_id):
        if volume_id in self.locked:
            return None
        return threading.Lock()

    def apply(self, settlement):
        self.applied.append((settlement.stuck.id, settlement.status))
        return True

    def test_find_reads_each_volume(self):
        found = {f.volume_id: f for f in startup.find([self.share])}
        self.assertEqual({self.VA, self.VB, self.VC, self.VD}, set(found))
        self.assertEqual([], interrupted.reasons(found[self.VA]))
        self.assertEqual((layout.part_file(SB),), found[self.VB].leftovers)
        self.assertFalse(found[self.VC].volume_file)
        self.assertEqual((layout.new_volume_part(layout.volume_file(
            self.VC)),), found[self.VC].partials)
        self.assertTrue(found[self.VD].journal)

    def test_run_recovers_what_needs_it_and_settles(self):
        deleting = interrupted.Stuck(
            kind=interrupted.SNAPSHOT, id=SA, volume_id=self.VA,
            status='deleting', volume_path=self.path(self.VA))
        summary = startup.run(_backend(), [self.share], [deleting],
                              self.try_lock, self.apply)
        self.assertEqual([store.DOCUMENT], os.listdir(
            layout.snapshot_dir(self.path(self.VB))))
        self.assertFalse(os.path.exists(layout.new_volume_part(
            self.path(self.VC))))
        with open(os.path.join(layout.snapshot_dir(self.path(self.VD)),
                               store.DOCUMENT)) as f:
            self.assertIsNone(json.load(f)['journal'])
        # A's snapshot is intact on the share: its delete never got there.
        self.assertEqual([(SA, 'available')], self.applied)
        self.assertEqual((4, 3, 0, 0, 1, 0),
                         (summary.volumes, summary.recovered, summary.busy,
                          summary.failed, summary.settled,
                          summary.left_to_admin))
        self.assertIn('4 volume(s) on 1 share(s)', summary.line())

    def test_a_locked_volume_is_left_to_its_lock_holder(self):
        self.locked.add(self.VB)
        summary = startup.run(_backend(), [self.share], [], self.try_lock,
                              self.apply)
        self.assertIn(layout.part_file(SB), os.listdir(
            layout.snapshot_dir(self.path(self.VB))))
        self.assertEqual((2, 1), (summary.recovered, summary.busy))

    def test_a_lock_that_lapses_is_tried_again(self):
        # A killed service's etcd lease outlives it: held at the first try,
        # free after two waits, the volume is recovered all the same.
        self.locked.add(self.VB)
        waits = []

        def sleep(seconds):
            waits.append(seconds)
            if len(waits) == 2:
                self.locked.discard(self.VB)

        summary = startup.run(_backend(), [self.share], [], self.try_lock,
                              self.apply, retry_for=60, retry_every=3,
                              sleep=sleep)
        self.assertEqual([3, 3], waits)
        self.assertEqual([store.DOCUMENT], os.listdir(
            layout.snapshot_dir(self.path(self.VB))))
        self.assertEqual((3, 0), (summary.recovered, summary.busy))

    def test_a_lock_still_held_after_the_retries_is_left(self):
        self.locked.add(self.VB)
        waits = []
        summary = startup.run(_backend(), [self.share], [], self.try_lock,
                              self.apply, retry_for=0.05, retry_every=0.02,
                              sleep=lambda s: (waits.append(s),
                                               time.sleep(s)))
        self.assertNotEqual([], waits)
        self.assertIn(layout.part_file(SB), os.listdir(
            layout.snapshot_dir(self.path(self.VB))))
        self.assertEqual((2, 1), (summary.recovered, summary.busy))


class LockedHintTest(testtools.TestCase):
    """What a snapshot's error adds when the volume was found locked."""

    LOCKED = Exception('qemu-storage-daemon: --blockdev ...: Failed to get '
                       '"write" lock\nIs another process using the image?')

    def test_attached_names_the_hosts(self):
        from incsnap_driver import online
        hint = snapshot._locked_hint(self.LOCKED, [
            online.Attachment('i1', 'compute2'),
            online.Attachment('i1', 'compute1')])
        self.assertIn('no domain runs it on compute1, compute2', hint)
        self.assertIn('moved to another host before its attachment', hint)

    def test_detached(self):
        self.assertEqual(' (another process holds the volume open)',
                         snapshot._locked_hint(self.LOCKED, []))

    def test_other_failures_get_no_hint(self):
        self.assertEqual('', snapshot._locked_hint(
            Exception('No space left on device'), []))
