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
"""Randomized lifecycle test: a model-based state machine over the driver.

Hypothesis drives the real driver (real Cinder objects, qemu-img,
qemu-storage-daemon, optionally a running libvirt domain) through random
sequences of writes, snapshots, deletes, reverts, volumes from snapshots,
extends, service restarts and attach/detach, and checks after every step
that what the driver left on the share agrees with a *model*:

* the volume: a raw file to which every write is applied as well;
* each live snapshot: a copy of that raw file taken when it was taken;
* the chain: which snapshot is the head (the bitmap's base), the depth of
  each snapshot; from them the kind (and reason) of the next snapshot
  follows, as README.md's rules say.

Invariants after every step: every live snapshot reads exactly as the
model did at its time; the volume reads as the model; the share holds
only the volume, the chain document and the files of live snapshots, or
hidden ones a live snapshot still needs; the volume carries at most one
bitmap of ours (the head's) when no VM has it open; depths never exceed
``snapshot_delta_max``.

CI runs a fixed-seed run of modest size. The long run is one command::

    INCSNAP_RANDOM_EXAMPLES=50 INCSNAP_RANDOM_STEPS=50 \
    INCSNAP_RANDOM_ONLINE=1 OS_TEST_TIMEOUT=3600 \
    python -m stestr --test-path=./tests/functional run \
        test_lifecycle_random

It prints the number of operations per rule to stderr (and to the file
named by ``INCSNAP_RANDOM_REPORT``, when set).
"""

import collections
import json
import os
import sys
import time
import uuid

import hypothesis
from hypothesis import stateful
from hypothesis import strategies as st

from tests.common import guest_writes
from tests.functional import base
from tests.functional import test_online

MiB = base.MiB
GiB = base.GiB
CLUSTER = 64 * 1024
# Writes land in the first DATA_LIMIT bytes: models stay small.
DATA_LIMIT = 64 * MiB
MAX_WRITE = 2 * MiB
DELTA_MAX = 3
MAX_LIVE = 6
MAX_SIZE_GB = 3
# Domain starts per example (each costs a few seconds).
MAX_STARTS = 2
# Rules run while attached before a detach may come.
MIN_ONLINE = 5
MIN_ONLINE_WRITES = 2

EXAMPLES = int(os.environ.get('INCSNAP_RANDOM_EXAMPLES', '8'))
STEPS = int(os.environ.get('INCSNAP_RANDOM_STEPS', '40'))
ONLINE = os.environ.get('INCSNAP_RANDOM_ONLINE', '0') == '1'
REPORT = os.environ.get('INCSNAP_RANDOM_REPORT')


def sparse_copy(src, dst, size):
    """Copy the model ``src`` to ``dst`` keeping holes; ``size`` bytes."""
    chunk = MiB
    zero = bytes(chunk)
    with open(src, 'rb') as f, open(dst, 'wb') as g:
        pos = 0
        while pos < DATA_LIMIT + MAX_WRITE:
            data = f.read(chunk)
            if not data:
                break
            if data != zero[:len(data)]:
                g.seek(pos)
                g.write(data)
            pos += len(data)
        g.truncate(size)


class Snap:
    """What the model knows of one live snapshot."""

    def __init__(self, snap_id, model, size_gb, depth):
        self.id = snap_id
        self.model = model
        self.size_gb = size_gb
        self.depth = depth


class LifecycleMachine(stateful.RuleBasedStateMachine):
    """One volume's life; ``case`` is the running test (set per run)."""

    case = None
    online = False

    def __init__(self):
        super().__init__()
        case = self.case
        self.ops = case.ops
        self.volume = case.create_volume(size=1)
        self.size_gb = 1
        self.model = guest_writes.Model(
            os.path.join(case.ref_dir, self.volume.id + '.model'), GiB)
        case.models[self.volume.id] = self.model
        self.snaps = []          # live snapshots, oldest first
        self.head = None         # the snapshot whose bitmap the volume has
        self.stale_bitmap = False  # head deleted while a VM ran
        self.depths = {}         # every snapshot id ever taken -> depth
        self.vm = None           # instance uuid while attached and running
        self.att = None
        self.starts = 0
        self.last = None         # the previous rule
        self.attached_ops = 0    # rules run since the attach
        self.ops_online_writes = 0  # guest writes since the attach
        self.ops['example'] += 1

    # -- helpers -----------------------------------------------------------

    def _volume(self):
        from cinder import objects
        return objects.Volume.get_by_id(self.case.ctx, self.volume.id)

    def _snapshot(self, snap):
        # As Cinder's manager does: a fresh object per request.
        from cinder import objects
        return objects.Snapshot.get_by_id(self.case.ctx, snap.id)

    def _done(self, operation):
        self.ops[operation] += 1
        self.last = operation
        self.attached_ops += 1

    def _expected_kind(self):
        """(kind, reason, parent) of the next snapshot, by the rules."""
        parent = self.snaps[-1] if self.snaps else None
        if parent is None:
            return 'full', 'first', None
        if parent.depth >= DELTA_MAX:
            return 'full', 'delta_max', None
        if self.head != parent.id:
            return 'full', 'parent_deleted', None
        return 'incremental', None, parent.id

    # -- rules -------------------------------------------------------------

    @stateful.rule(offset=st.integers(0, DATA_LIMIT // CLUSTER - 1),
                   clusters=st.integers(1, MAX_WRITE // CLUSTER),
                   pattern=st.none() | st.integers(0, 255))
    def write(self, offset, clusters, pattern):
        """Random write; ``pattern`` None: a zero write (``write -z``)."""
        offset *= CLUSTER
        length = clusters * CLUSTER
        if self.vm:
            guest_writes.guest_write(self.case.domains.get(self.vm), offset,
                                     length, pattern)
        else:
            guest_writes.offline_write(self.case.volume_path(self.volume),
                                       offset, length, pattern)
        self.model.write(offset, length, pattern)
        if self.vm:
            self.ops_online_writes += 1
        self._done('write-online' if self.vm else 'write')

    @stateful.precondition(lambda self: len(self.snaps) < MAX_LIVE)
    @stateful.rule()
    def snapshot(self):
        kind, reason, parent = self._expected_kind()
        case = self.case
        model = os.path.join(case.ref_dir, '%s.%d.snap' % (
            self.volume.id, len(self.depths)))
        sparse_copy(self.model, model, self.size_gb * GiB)
        snap = case.create_snapshot(self._volume())
        meta = snap.metadata
        got = (meta['incsnap:kind'], meta.get('incsnap:full_reason'),
               meta.get('incsnap:parent'))
        case.assertEqual((kind, reason, parent), got,
                         'kind of snapshot %s' % snap.id)
        depth = 1 if parent is None else self.depths[parent] + 1
        case.assertEqual(str(depth), meta['incsnap:chain_depth'])
        # A full stands alone; an incremental is backed by its parent's
        # file, named relative to the snapshot folder.
        info = case.image_info(case.snap_path(self.volume, snap))
        case.assertEqual(
            'snapshot-%s.qcow2' % parent if parent else None,
            info.get('backing-filename'))
        self.depths[snap.id] = depth
        self.snaps.append(Snap(snap.id, model, self.size_gb, depth))
        self.head = snap.id
        self.stale_bitmap = False
        self._done('snapshot-%s%s' % (kind, '-online' if self.vm else ''))

    @stateful.precondition(lambda self: self.snaps)
    @stateful.rule(data=st.data())
    def delete_snapshot(self, data):
        index = data.draw(st.integers(0, len(self.snaps) - 1), label='index')
        snap = self.snaps.pop(index)
        self.case.delete_snapshot(self._snapshot(snap))
        os.unlink(snap.model)
        if self.head == snap.id:
            self.head = None
            # Detached, the driver drops the bitmap at once; while a VM
            # runs, it stays until the next snapshot.
            self.stale_bitmap = bool(self.vm)
        newest = index == len(self.snaps)
        self._done('delete-newest' if newest else 'delete')

    @stateful.precondition(lambda self: (
        self.snaps and not self.att and
        self.snaps[-1].size_gb == self.size_gb))
    @stateful.rule()
    def revert(self):
        # Cinder: only to the newest snapshot, detached, same size.
        snap = self.snaps[-1]
        self.case.driver.revert_to_snapshot(self.case.ctx, self._volume(),
                                            self._snapshot(snap))
        sparse_copy(snap.model, self.model, self.size_gb * GiB)
        self.head = snap.id
        self.stale_bitmap = False
        self._done('revert')

    @stateful.precondition(lambda self: self.snaps)
    @stateful.rule(data=st.data())
    def volume_from_snapshot(self, data):
        from cinder import objects
        case = self.case
        snap = data.draw(st.sampled_from(self.snaps), label='snapshot')
        new = objects.Volume(
            context=case.ctx, size=snap.size_gb, status='creating',
            host=self.volume.host, availability_zone='nova',
            volume_type_id=self.volume.volume_type_id, project_id='p',
            user_id='u')
        new.create()
        try:
            new.update(case.driver.create_volume_from_snapshot(
                new, self._snapshot(snap)))
            path = case.volume_path(new)
            case.assertModel(path, snap.model)
            info = case.image_info(path)
            case.assertNotIn('backing-filename', info)
            case.assertEqual(snap.size_gb * GiB, info['virtual-size'])
        finally:
            case.driver.delete_volume(new)
            new.destroy()
        self._done('volume-from-snapshot')

    @stateful.precondition(lambda self: (not self.att and
                                         self.size_gb < MAX_SIZE_GB))
    @stateful.rule()
    def extend(self):
        self.size_gb += 1
        volume = self._volume()
        self.case.driver.extend_volume(volume, self.size_gb)
        volume.size = self.size_gb
        volume.save()
        self.model.resize(self.size_gb * GiB)
        self._done('extend')

    # Two restarts in a row test nothing more than one.
    @stateful.precondition(lambda self: self.last != 'restart')
    @stateful.rule()
    def restart_service(self):
        self.case.driver = self.case.make_driver()
        self._done('restart')

    @stateful.precondition(lambda self: (self.online and not self.att and
                                         self.starts < MAX_STARTS))
    @stateful.rule()
    def attach(self):
        self.vm = str(uuid.uuid4())
        self.att = self.case.attach(self._volume(), self.vm)
        self.case.start(self.vm, [self._volume()])
        self.starts += 1
        self.attached_ops = 0
        self.ops_online_writes = 0
        self._done('attach')

    # The VM runs a while: guest writes and online snapshots get their
    # turn (hypothesis favours the rules without arguments).
    @stateful.precondition(lambda self: (
        self.att and self.attached_ops >= MIN_ONLINE and
        self.ops_online_writes >= MIN_ONLINE_WRITES))
    @stateful.rule()
    def detach(self):
        self._detach()
        self._done('detach')

    def _detach(self):
        # A clean shutdown: QEMU writes its bitmaps back to the image.
        self.case.destroy(self.vm, graceful=True)
        self.case.detach(self._volume(), self.att)
        self.vm = self.att = None

    # -- invariants --------------------------------------------------------

    @stateful.invariant()
    def contents_match_the_model(self):
        case = self.case
        case.assertModel(case.volume_path(self.volume), self.model)
        for snap in self.snaps:
            case.assertModel(case.snap_path(self.volume, snap), snap.model)

    @stateful.invariant()
    def chain_and_files_are_sound(self):
        case = self.case
        snap_dir = case.snap_dir(self.volume)
        doc_path = os.path.join(snap_dir, 'chain.json')
        if os.path.exists(doc_path):
            with open(doc_path) as f:
                doc = json.load(f)
        else:
            doc = {'snapshots': [], 'head': None, 'journal': None}
        records = {r['id']: r for r in doc['snapshots']}
        live = [r['id'] for r in doc['snapshots'] if not r['hidden']]
        case.assertEqual([s.id for s in self.snaps], live)
        case.assertEqual(self.head, doc['head'])
        case.assertIsNone(doc['journal'])
        # Hidden records only while a live descendant needs them.
        needed = set()
        for snap_id in live:
            record = records[snap_id]
            while record['parent']:
                record = records[record['parent']]
                needed.add(record['id'])
        for record in doc['snapshots']:
            if record['hidden']:
                case.assertIn(record['id'], needed,
                              'hidden %s is needed by nobody' % record['id'])
            case.assertLessEqual(record['depth'], DELTA_MAX)
            if record['kind'] == 'full':
                case.assertEqual(1, record['depth'])
                case.assertIsNone(record['parent'])
            else:
                case.assertEqual(records[record['parent']]['depth'] + 1,
                                 record['depth'])
            case.assertEqual(self.depths[record['id']], record['depth'])
        # The share: the volume, and its snapshot folder with exactly the
        # chain document and the records' files. Nothing else.
        name = os.path.basename(case.volume_path(self.volume))
        expected = {name}
        if records:
            expected.add(os.path.join(name + '.incsnap', 'chain.json'))
        for record in doc['snapshots']:
            expected.add(os.path.join(name + '.incsnap', record['file']))
        case.assertEqual(sorted(expected), case.share_files())
        if not records:
            case.assertFalse(os.path.exists(snap_dir))
        # Bounded bitmaps: while detached, at most one of ours, the
        # head's, recording and consistent.
        if not self.vm:
            info = case.image_info(case.volume_path(self.volume))
            bitmaps = info.get('format-specific', {}).get('data', {}).get(
                'bitmaps', [])
            ours = [b for b in bitmaps if b['name'].startswith('incsnap-')]
            if self.head:
                case.assertEqual(['incsnap-%s' % self.head],
                                 [b['name'] for b in ours])
            elif not self.stale_bitmap:
                case.assertEqual([], ours)
            case.assertLessEqual(len(ours), 1, ours)
            for bitmap in ours:
                case.assertEqual(['auto'], bitmap['flags'])

    def teardown(self):
        if self.att:
            self._detach()
        self.case.driver.delete_volume(self._volume())
        for snap in self.snaps:
            os.unlink(snap.model)
        os.unlink(self.model)


class TestLifecycleRandom(test_online.OnlineTestCase):
    """Runs the state machine (offline; online too when asked)."""

    backend_options = {'snapshot_delta_max': DELTA_MAX}

    def setUp(self):
        super().setUp()
        self.ops = collections.Counter()

    def test_random_lifecycle(self):
        machine = type('Machine', (LifecycleMachine,),
                       {'case': self, 'online': ONLINE})
        started = time.monotonic()
        try:
            stateful.run_state_machine_as_test(
                machine, settings=hypothesis.settings(
                    max_examples=EXAMPLES, stateful_step_count=STEPS,
                    derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(hypothesis.HealthCheck),
                    print_blob=False))
        finally:
            self.report(time.monotonic() - started)

    def report(self, elapsed):
        ops = dict(self.ops)
        examples = ops.pop('example', 0)
        text = ('randomized lifecycle: %d examples, %d operations in '
                '%.0f s (examples=%d steps=%d online=%s)\n' % (
                    examples, sum(ops.values()), elapsed, EXAMPLES, STEPS,
                    ONLINE))
        text += ''.join('  %-26s %d\n' % item for item in sorted(ops.items()))
        sys.stderr.write(text)
        if REPORT:
            with open(REPORT, 'w') as f:
                f.write(text)
