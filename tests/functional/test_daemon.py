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
"""qemu-storage-daemon as the driver starts it: which process it is."""

import os

import fixtures
import testtools

from incsnap_driver.qemu import daemon
from incsnap_driver.qemu import img
from incsnap_driver.qemu import processes


class DaemonPidTest(testtools.TestCase):

    def test_pid_from_the_connection_is_the_daemon(self):
        # The pid comes from the QMP connection's peer credentials, not
        # from the pid file: both must name the running daemon.
        folder = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(folder, 'image.qcow2')
        img.create(path, 64 * 1024 ** 2)
        qsd = daemon.StorageDaemon([{
            'node-name': 'image', 'driver': 'qcow2', 'read-only': True,
            'file': {'driver': 'file', 'filename': path}}])
        qsd.start()
        self.addCleanup(qsd.stop, False)
        with open(qsd.pidfile) as f:
            self.assertEqual(int(f.read().strip()), qsd.pid)
        self.assertIn(qsd.pid, processes.pids_with_argument(qsd.socket_path))
        qsd.stop()
        self.assertFalse(processes.running(qsd.pid))
