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
"""Two cinder-volume nodes of one cluster on etcd locks, through the API.

Against a stack with two nodes (``tools/aio up --nodes 2``; skipped on
one): cinder-volume (``aio``) and cinder-volume-2 (``aio-2``), one
``[DEFAULT] cluster``, their own mount points of the same shares, their
volume locks in the stack's etcd.

* Bursts of snapshot creates, deletes, reverts and volumes from
  snapshots on the same few volumes, sent at once (Cinder's API over
  HTTP, one thread each): both nodes serve them (their logs say so);
  afterwards every chain verifies (``incsnap-manage verify``), every
  snapshot and every new volume reads exactly as its reference
  (``qemu-img compare``), no partial file is left, and no two sections
  were ever inside one volume's lock at once (the intervals each node
  logs, :mod:`incsnap_driver.lock_log`).
* The control: the same stack on per-node file locks (Cinder's default
  kind, each node its own folder) shows that overlap, so the checker
  above can fail. The stack is set back to etcd afterwards.
* Node death: the node taking a snapshot is SIGKILLed with its QEMU tools
  (a host crash) while the copy runs; the other node's next operation on
  the volume waits until the dead node's etcd lease lapses and then
  carries on; ``POST /workers/cleanup`` (3.24) has the survivor settle the
  dead node's snapshot (``creating`` -> ``error``); the volume is intact
  and its next snapshot correct. The killed node is started again.
"""

import concurrent.futures
import json
import os
import signal
import subprocess
import time

from incsnap_driver import layout
from incsnap_driver import lock_log
from tests.common import cinder_api
from tests.common import processes
from tests.common import stack
from tests.e2e import base

MiB = base.MiB
STACK = base.STACK
# The nodes' services (PID files, logs) and their [DEFAULT] host.
NODES = {'cinder-volume': 'aio@incsnap', 'cinder-volume-2': 'aio-2@incsnap'}
CLUSTER = 'aio-cluster@incsnap'
BIG = int(os.environ.get('INCSNAP_E2E_KILL_MIB', '1536')) * MiB


# The cluster phase (tox -e cluster) sets it: a stack of this checkout is
# then brought to two nodes; without it a one-node stack skips the tests.
WANT_CLUSTER = os.environ.get('INCSNAP_CLUSTER') == '1'


def two_nodes():
    return STACK.nodes() == 2


def log_path(service):
    return os.path.join(STACK.aio_dir, 'log', '%s.log' % service)


def sparse_copy(src, dest):
    subprocess.run(['cp', '--sparse=always', src, dest], check=True)
    return dest


def on_file_locks():
    """Whether the nodes' own files put them on file locks (the control)."""
    for n in (1, 2):
        try:
            with open(os.path.join(STACK.aio_dir, 'etc', 'cinder',
                                   'cinder-volume-%d.conf' % n)) as f:
                if 'backend_url = file://' in f.read():
                    return True
        except FileNotFoundError:
            pass
    return False


def reconfigure(coordination_url=None):
    """``tools/aio up`` of the two nodes, on ``coordination_url`` (or etcd).

    Only the nodes restart: their coordination is in their own files.
    """
    env = dict(STACK.aio_env(), AIO_NODES='2')
    env.pop('AIO_COORDINATION_URL', None)
    if coordination_url:
        env['AIO_COORDINATION_URL'] = coordination_url
    proc = subprocess.run([stack.AIO, 'up'], env=env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise AssertionError('tools/aio up failed:\n%s\n%s' % (
            proc.stdout[-3000:], proc.stderr[-3000:]))


class ClusterCase(base.E2ETestCase):
    """The two-node stack, its API client and its nodes' logs."""

    # The control run wants the nodes on file locks; every other, etcd.
    FILE_LOCKS = False

    @classmethod
    def setUpClass(cls):
        if WANT_CLUSTER and not STACK.shared:
            STACK.ensure_up(nodes=2)
        if not two_nodes():
            raise cls.skipException(
                'the stack in %s has one cinder-volume node: '
                'tools/aio up --nodes 2 (or tox -e cluster)' % STACK.aio_dir)
        if on_file_locks() and not cls.FILE_LOCKS:
            reconfigure()
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.auth = cinder_api.credentials(STACK.clouds_yaml)
        self.api = cinder_api.Client(self.auth)
        self.log_marks = {s: os.path.getsize(log_path(s)) for s in NODES}
        self.lift_quotas()
        # What the test made, deleted at the end through the API, all at
        # once: snapshots first, then volumes (a CLI call each is slow).
        self.made = {'volume snapshot': [], 'volume': []}
        self.addCleanup(self.delete_made)

    def _cleanup(self, kind, ident):
        self.made[kind].append(ident)

    def delete_made(self):
        def gone(kind, ident):
            client = self.client()
            try:
                if kind == 'volume':
                    client.delete_volume(ident)
                else:
                    client.delete_snapshot(ident)
                client.wait(kind.split()[-1], ident, None, base.TIMEOUT)
            except (cinder_api.APIError, AssertionError):
                pass  # gone already, or undeletable: best effort
        for kind in ('volume snapshot', 'volume'):
            idents = sorted(set(self.made[kind]))
            if idents:
                self.at_once([(gone, kind, i) for i in idents])

    def lift_quotas(self):
        """The admin project's volume quotas unlimited for the test."""
        project = self.api.session.get_project_id()
        path = '/os-quota-sets/%s' % project
        old = self.api.call('GET', path)['quota_set']
        keep = {k: old[k] for k in ('volumes', 'snapshots', 'gigabytes')}
        self.api.call('PUT', path, {'quota_set': {
            'volumes': -1, 'snapshots': -1, 'gigabytes': -1}})
        self.addCleanup(self.api.call, 'PUT', path, {'quota_set': keep})

    def client(self):
        return cinder_api.Client(self.auth)

    def at_once(self, calls):
        """Run every ``(fn, args...)`` at the same time; their results."""
        with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
            futures = [pool.submit(call[0], *call[1:]) for call in calls]
            return [f.result() for f in futures]

    # -- the nodes' logs -----------------------------------------------------

    def node_log(self, service):
        with open(log_path(service), errors='replace') as f:
            f.seek(self.log_marks[service])
            return f.read()

    def lock_spans(self, died=None):
        events = []
        for service in NODES:
            events += lock_log.parse(self.node_log(service))
        return lock_log.intervals(events, died=died)

    def served(self, spans, ops):
        """{host: sections} of the operations ``ops`` each node ran."""
        found = {}
        for span in spans:
            if span.op in ops:
                found.setdefault(span.host, []).append(span)
        return found

    def assertNoOverlap(self, spans):
        found = lock_log.overlaps(spans)
        self.assertEqual([], [lock_log.describe(p) for p in found])

    # -- volumes, snapshots ----------------------------------------------

    def new_volume(self, size_gb=1):
        vid = self.create_volume(size_gb=size_gb)['id']
        self.wait_status('volume', vid, 'available')
        return vid

    def snapshot(self, client, vid):
        sid = client.create_snapshot(vid, self.unique_name('snap'))
        self.addCleanup(self._cleanup, 'volume snapshot', sid)
        client.wait('snapshot', sid, 'available', base.TIMEOUT)
        return sid

    def delete(self, client, sid):
        client.delete_snapshot(sid)
        client.wait('snapshot', sid, None, base.TIMEOUT)

    def revert(self, client, vid, sid):
        client.revert(vid, sid)
        client.wait('volume', vid, 'available', base.TIMEOUT)
        # The snapshot is back to available once the revert is done.
        client.wait('snapshot', sid, 'available', base.TIMEOUT)

    def from_snapshot(self, client, sid):
        vid = client.volume_from_snapshot(sid, 1, self.unique_name('vol'))
        self.addCleanup(self._cleanup, 'volume', vid)
        client.wait('volume', vid, 'available', base.TIMEOUT)
        return vid

    def verify_chains(self, volume_ids):
        """``incsnap-manage verify`` of the shares: no error on these."""
        out = subprocess.run(
            [os.path.join(STACK.venv_bin, 'incsnap-manage')] +
            ['--share-dir=%s' % e for e in STACK.exports] +
            ['verify', '--offline', '--json'],
            capture_output=True, text=True)
        report = json.loads(out.stdout)
        ours = [p for share in report['shares'] for p in share['problems']
                if any(v in json.dumps(p) for v in volume_ids) and
                p.get('severity') == 'error']
        self.assertEqual([], ours)


class TestClusterBursts(ClusterCase):
    """Both nodes serving bursts on the same volumes, under etcd locks."""

    VOLUMES = 3
    ROUNDS = 2

    def test_bursts_on_both_nodes(self):
        vids = [self.new_volume() for _i in range(self.VOLUMES)]
        models = {v: self.new_model(v) for v in vids}
        refs = {}          # snapshot or new volume id: reference file
        live = {v: [] for v in vids}    # snapshots in creation order
        made = []          # volumes from snapshots
        deleted = []
        byte = 0x10
        for rnd in range(self.ROUNDS):
            for v in vids:
                byte += 1
                self.offline_write(v, rnd * 8 * MiB, 4 * MiB, byte,
                                   models[v])
            # Two snapshots of each volume at once, every volume at once.
            calls = [(self.snapshot, self.client(), v)
                     for v in vids for _twice in range(2)]
            sids = self.at_once(calls)
            for (_fn, _c, v), sid in zip(calls, sids):
                refs[sid] = sparse_copy(models[v].path, '%s.%s' % (
                    models[v].path, sid))
                live[v].append(sid)
            for v in vids:
                byte += 1
                self.offline_write(v, rnd * 8 * MiB + 2 * MiB, 4 * MiB,
                                   byte, models[v])
            # On each volume at once: revert to its newest snapshot, a
            # volume from the other new one, delete its oldest older one.
            calls = []
            for v in vids:
                pair = live[v][-2:]
                newest = max(pair, key=lambda s: self.api.snapshot(s)[
                    'created_at'])
                other = [s for s in pair if s != newest][0]
                calls.append((self.revert, self.client(), v, newest))
                calls.append((self.from_snapshot, self.client(), other))
                older = [s for s in live[v] if s not in pair]
                if older:
                    calls.append((self.delete, self.client(), older[0]))
                    live[v].remove(older[0])
                    deleted.append((v, older[0]))
                models[v] = self._reverted(models[v], refs[newest])
            results = self.at_once(calls)
            for call, result in zip(calls, results):
                if call[0] == self.from_snapshot:
                    refs[result] = refs[call[2]]
                    made.append(result)

        # Both nodes served the bursts.
        spans = self.lock_spans()
        served = self.served(spans, {'create_snapshot', 'delete_snapshot',
                                     'revert_to_snapshot',
                                     'create_volume_from_snapshot'})
        self.assertEqual(set(NODES.values()), set(served),
                         'sections by node: %s' % {
                             h: len(s) for h, s in served.items()})
        # Never two inside one volume's lock.
        self.assertNoOverlap(spans)
        # Every chain valid, every byte where it belongs, nothing stray.
        self.verify_chains(vids + made)
        for v in vids:
            self.assertContent(self.volume_path(v), models[v])
            for sid in live[v]:
                self.assertContent(self.snap_file(v, sid), refs[sid])
            self.assertEqual([], self.leftovers(v))
        for v in made:
            self.assertContent(self.volume_path(v), refs[v])
        # A deleted snapshot's file stays only while a later one needs it:
        # hidden in its chain document.
        for v, sid in deleted:
            hidden = {r['id'] for r in self.chain_records(v)
                      if r.get('hidden')}
            if self.files_named(sid) and sid not in hidden:
                self.fail('deleted snapshot %s still has its file %s, '
                          'not hidden' % (sid, self.files_named(sid)))

    def chain_records(self, vid):
        path = os.path.join(self.snap_dir(vid), layout.CHAIN_DOCUMENT)
        with open(path) as f:
            return json.load(f)['snapshots']

    def _reverted(self, model, ref):
        """The volume's model after a revert to the snapshot of ``ref``."""
        sparse_copy(ref, model.path)
        return model


class TestPerNodeFileLocks(ClusterCase):
    """The control run: per-node file locks do not exclude across nodes.

    The nodes are switched to file locks in a folder of each node's own
    (``AIO_COORDINATION_URL=file://...``: the nodes' own files, only the
    nodes restart), snapshots of one volume are sent at once, and the
    checker of :class:`TestClusterBursts` must find two nodes inside the
    volume's lock at the same time. Last of the module (by name): the
    nodes stay on file locks until the next cluster test's set-up puts
    them back on etcd (:meth:`ClusterCase.setUpClass`), or the next
    one-node ``tools/aio up``.
    """

    SNAPSHOTS = 8
    FILE_LOCKS = True

    def test_file_locks_overlap(self):
        reconfigure('file://%s' % os.path.join(
            STACK.aio_dir, 'data', 'control-locks'))
        for n in (1, 2):
            with open(os.path.join(STACK.aio_dir, 'etc', 'cinder',
                                   'cinder-volume-%d.conf' % n)) as f:
                self.assertIn('backend_url = file://', f.read())
        self.log_marks = {s: os.path.getsize(log_path(s)) for s in NODES}
        vid = self.new_volume()
        self.offline_write(vid, 0, 8 * MiB, 0x42)
        clients = [self.client() for _i in range(self.SNAPSHOTS)]
        # Statuses are not waited for: without exclusion some may fail.
        sids = self.at_once([(c.create_snapshot, vid, self.unique_name(
            'snap')) for c in clients])
        for sid in sids:
            self.addCleanup(self._cleanup, 'volume snapshot', sid)
        deadline = time.monotonic() + base.TIMEOUT
        while time.monotonic() < deadline and any(
                self.api.snapshot(s)['status'] == 'creating' for s in sids):
            time.sleep(1)
        spans = self.lock_spans()
        lock = 'nfs-%s' % vid
        ours = [s for s in spans if s.lock == lock]
        served = self.served(ours, {'create_snapshot'})
        self.assertEqual(set(NODES.values()), set(served),
                         'both nodes must get some of the snapshots')
        found = lock_log.overlaps(ours)
        self.assertNotEqual([], found,
                            'per-node file locks showed no overlap')
        self.assertTrue(any(a.host != b.host for a, b in found),
                        [lock_log.describe(p) for p in found])


class TestNodeDeath(ClusterCase):
    """A node SIGKILLed mid-snapshot with its QEMU tools; the other goes on."""

    def node_of_daemon(self, vid):
        """(service, daemon pid) of the node whose daemon copies ``vid``."""
        for pid in processes.program_pids(vid):
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                args = f.read().decode(errors='replace').split('\0')
            for service, host in NODES.items():
                if any(('data=%s:' % host) in a for a in args):
                    return service, pid
        return None, None

    @staticmethod
    def tools_of(host, starters):
        """PIDs of the live QEMU tools ``host`` started in ``starters``.

        The owner mark is ``host@backend:pid:start``; host alone would
        also name the tools of another stack on this machine (same host
        names).
        """
        marks = ['data=%s:%d:' % (host, p) for p in starters]
        found = {pid for mark in marks
                 for pid in processes.pids_with_argument(mark)}
        return [pid for pid in sorted(found)
                if processes.running(pid) and any(
                    processes.runs_program(processes.cmdline(pid), p)
                    for p in ('qemu-storage-daemon', 'qemu-img'))]

    def ensure_nodes(self):
        """Cleanup: both nodes run again, whatever happened."""
        for service in NODES:
            try:
                if processes.running(STACK.service_pid(service)):
                    continue
            except (OSError, ValueError):
                pass
            STACK.restart_service(service)

    def test_node_killed_mid_snapshot(self):
        # Both nodes serve (one left dead by an earlier run would leave no
        # survivor).
        self.ensure_nodes()
        vid = self.new_volume(size_gb=2)
        model = self.new_model(vid, size_gb=2)
        self.offline_write(vid, 0, 1 * MiB, 0x5a, model)
        s0 = self.snapshot(self.api, vid)
        first = self.model_copy(model, 's0')
        self.offline_write(vid, 64 * MiB, BIG, 0xc3, model)
        self.addCleanup(self.ensure_nodes)
        self.addCleanup(lambda: processes.kill(processes.qemu_holders(vid)))
        subprocess.run(['sync'], check=True)
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('1\n')
        killed = self.api.create_snapshot(vid, self.unique_name('snap'))
        self.addCleanup(self._cleanup, 'volume snapshot', killed)
        deadline = time.monotonic() + 60
        service = daemon = None
        while service is None and time.monotonic() < deadline:
            service, daemon = self.node_of_daemon(vid)
            time.sleep(0.01)
        self.assertIsNotNone(service, 'no storage daemon copied the volume')
        survivor = [s for s in NODES if s != service][0]
        # The host crashes: its service and the service's workers first
        # (no tool starts after), then every QEMU tool they started (by
        # the owner mark: a daemonizing storage daemon is two processes).
        pid = STACK.service_pid(service)
        victims = processes.children(pid) + [pid]
        starters = list(victims)
        for victim in victims:
            os.kill(victim, signal.SIGKILL)
        died_at = time.time()
        tools = self.tools_of(NODES[service], starters)
        # The daemon, or the process it became once daemonized.
        self.assertNotEqual([], tools)
        while tools:
            processes.kill(tools)
            victims += tools
            tools = self.tools_of(NODES[service], starters)
        deadline = time.monotonic() + 10
        while any(map(processes.running, victims)) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(any(map(processes.running, victims)))
        self.assertEqual('creating', self.api.snapshot(killed)['status'],
                         'the snapshot finished before the kill: make '
                         'INCSNAP_E2E_KILL_MIB larger')

        # The survivor carries on with the volume once the lease lapsed.
        expected = self.model_copy(model, 'next')
        nxt = self.snapshot(self.api, vid)
        spans = self.lock_spans(died={p: died_at for p in victims})
        lock = 'nfs-%s' % vid
        theirs = [s for s in spans if s.lock == lock and s.pid in victims]
        self.assertEqual(1, len([s for s in theirs if s.exit is None]),
                         'the dead node held the lock when it died')
        after = [s for s in spans if s.lock == lock and s.enter > died_at]
        self.assertEqual({NODES[survivor]}, {s.host for s in after})
        self.assertNoOverlap(spans)
        self.assertContent(self.snap_file(vid, nxt), expected)
        props = self.snapshot_props(nxt)
        if props['incsnap:kind'] == 'full':
            self.assertIn(props.get('incsnap:full_reason'),
                          ('bitmap_inconsistent', 'bitmap_missing'), props)
        else:
            self.assertEqual(s0, props.get('incsnap:parent'), props)

        # Cinder's clean-up of the dead node, done by the survivor.
        dead_host = NODES[service]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = self.api.call('GET', '/os-services?binary=cinder-volume')
            state = {r['host']: r['state'] for r in rows['services']}
            if state.get(dead_host) == 'down':
                break
            time.sleep(2)
        self.assertEqual('down', state.get(dead_host), state)
        cleaning, unavailable = self.api.workers_cleanup(
            host=dead_host, binary='cinder-volume')
        self.assertEqual([dead_host], [c['host'] for c in cleaning])
        self.assertEqual([], unavailable)
        self.api.wait('snapshot', killed, 'error', base.TIMEOUT)
        self.delete(self.api, killed)
        self.assertContent(self.volume_path(vid), model)
        self.assertContent(self.snap_file(vid, s0), first)
        self.assertEqual([], self.leftovers(vid))
        self.assertEqual([], processes.qemu_holders(vid))

        # The killed node comes back, and the stack is whole.
        STACK.restart_service(service)
        self.assertTrue(processes.running(STACK.service_pid(service)))
