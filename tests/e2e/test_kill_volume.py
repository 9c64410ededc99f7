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
"""cinder-volume killed (SIGKILL) in the middle of a snapshot, restarted.

Right after the restart, before any request on the volume, the orphaned
storage daemon is gone (the driver's start-up recovery, read from the
service's log).

The one e2e test that touches a service: it kills cinder-volume by the
stack's PID file while the snapshot's copy runs, and brings it back with
``tools/aio restart cinder-volume`` (the way ``tools/aio up`` starts it,
waiting until the backend is in service), also when the test fails.
"""

import os
import signal
import subprocess
import time

from tests.common import processes
from tests.e2e import base

MiB = base.MiB
# Written after the first snapshot: the incremental copies all of it,
# long enough (seconds) to be caught in the middle.
BIG = int(os.environ.get('INCSNAP_E2E_KILL_MIB', '1536')) * MiB


def volume_pid():
    return base.STACK.service_pid('cinder-volume')


class TestCinderVolumeKilled(base.E2ETestCase):

    def restart_volume_service(self):
        base.STACK.restart_service('cinder-volume')

    def ensure_volume_service(self):
        """Cleanup: cinder-volume runs again, whatever happened."""
        try:
            if processes.running(volume_pid()):
                return
        except (OSError, ValueError):
            pass
        self.restart_volume_service()

    def stop_orphans(self, volume_id):
        """Cleanup: qemu processes still on this test's volume, by pid."""
        processes.kill(processes.qemu_holders(volume_id))

    def test_kill_during_snapshot_then_restart(self):
        vid = self.create_volume(size_gb=2)['id']
        self.wait_status('volume', vid, 'available')
        model = self.new_model(vid, size_gb=2)
        self.offline_write(vid, 0, 1 * MiB, 0x5a, model)
        s0 = self.snapshot_ok(vid)
        self.offline_write(vid, 64 * MiB, BIG, 0xc3, model)

        self.addCleanup(self.ensure_volume_service)
        pid = volume_pid()
        self.assertTrue(processes.running(pid))
        # cinder-volume forks one worker per backend (incsnap, the stock
        # nfs one): incsnap's does the work; all of them die with it.
        workers = processes.children(pid)
        self.assertEqual(len(base.STACK.backends()), len(workers), workers)
        # From disk, not the page cache: the copy then takes seconds.
        subprocess.run(['sync'], check=True)
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('1\n')
        # The CLI is started, not waited for: its own start-up takes as
        # long as a fast copy, which would be over before the kill.
        name = self.unique_name('snap')
        cli = subprocess.Popen(
            [base.STACK.openstack_cli, 'volume', 'snapshot', 'create',
             '--volume', vid, name, '-f', 'value', '-c', 'id'],
            env=base.STACK.cli_env(), stdout=subprocess.PIPE, text=True)
        snap_dir = self.snap_dir(vid)

        def copying():
            parts = [n for n in (os.listdir(snap_dir)
                                 if os.path.isdir(snap_dir) else [])
                     if n.endswith('.qcow2.part')]
            return parts and processes.program_pids(vid)

        # Killed while its qemu-storage-daemon copies (not before the
        # daemon started, which leaves nothing running): the daemon
        # itself, not any QEMU tool naming the volume -- ``qemu-img
        # create`` of the partial file comes first and would let the
        # kill land before there is a daemon to orphan.
        self.addCleanup(self.stop_orphans, vid)
        deadline = time.monotonic() + 60
        while not copying() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(copying(),
                        'copy never started: %s' % self.files_named(vid))
        # The worker (doing the snapshot) and its parent, by their ids.
        for victim in workers + [pid]:
            os.kill(victim, signal.SIGKILL)
        t_kill = time.monotonic()
        while any(map(processes.running, workers + [pid])) and \
                time.monotonic() - t_kill < 10:
            time.sleep(0.05)
        self.assertFalse(any(map(processes.running, workers + [pid])))
        killed = cli.communicate(timeout=120)[0].strip()
        self.assertEqual(0, cli.returncode)
        self.addCleanup(self._cleanup, 'volume snapshot', killed)
        status = self.openstack('volume', 'snapshot', 'show',
                                killed)['status']
        self.assertEqual('creating', status,
                         'the snapshot finished before the kill: make '
                         'INCSNAP_E2E_KILL_MIB larger')

        self.restart_volume_service()
        self.assertNotEqual(pid, volume_pid())
        # At its start, before any request on the volume, the driver's
        # start-up scan stopped the orphaned daemon and removed the
        # partial copy.
        base.STACK.wait_log('cinder-volume', 'incsnap start-up recovery: ')
        base.STACK.wait_log('cinder-volume', ' volume(s) on ')
        self.assertEqual([], processes.qemu_holders(vid))
        self.assertEqual([], self.leftovers(vid))
        self.assertIn('stopped qemu-storage-daemon', ' '.join(
            base.STACK.log_lines('cinder-volume', 'incsnap start-up '
                                 'recovery: volume %s' % vid)))

        # Cinder's start-up cleanup: a snapshot left creating is an error,
        # which the user can delete.
        self.assertEqual('error', self.openstack(
            'volume', 'snapshot', 'show', killed)['status'])
        self.delete_snapshot(killed)
        # The volume and the older snapshot are intact.
        self.assertEqual('available',
                         self.openstack('volume', 'show', vid)['status'])
        self.assertContent(self.volume_path(vid), model)

        # The next snapshot works (full only with a reason), and the
        # leftovers of the killed one are gone after it.
        expected = self.model_copy(model, 'next')
        nxt = self.snapshot_ok(vid)
        props = self.snapshot_props(nxt)
        if props['incsnap:kind'] == 'full':
            self.assertIn(props.get('incsnap:full_reason'),
                          ('bitmap_inconsistent', 'bitmap_missing'), props)
        else:
            self.assertEqual(s0, props.get('incsnap:parent'), props)
        self.assertContent(self.snap_file(vid, nxt), expected)
        self.assertEqual([], self.leftovers(vid))
        self.assertEqual([], processes.qemu_holders(vid))
