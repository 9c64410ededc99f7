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
"""Cinder volume services of a functional test, as separate processes.

:class:`VolumeService` writes a cinder.conf for the test's backend (the
test's own database, locks, state and root helper; the RPC transport is
oslo.messaging's in-process ``fake:/``: no broker, and no request comes
in over it) and runs two kinds of service process on it:

* :meth:`~VolumeService.run_operation`: ``tests/functional/
  service_child.py``, which starts like cinder-volume (eventlet, a
  service record, Cinder's ``VolumeManager`` and ``init_host``) and then
  runs one request through the manager, as its RPC endpoint would: the
  service a test kills mid-operation;
* :meth:`~VolumeService.start`: the real ``cinder-volume`` program
  (oslo.service launcher, ``Service.start``: ``init_host``, the RPC
  server, the state reports), as an operator restarts it.
"""

import os
import signal
import subprocess
import sys
import time

from oslo_config import cfg

from tests.functional import base

CONF = cfg.CONF
SERVICE_HOST = 'incsnap-test'
SUMMARY = 'incsnap start-up recovery: '


def _ini_value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


class VolumeService:
    """cinder.conf of one backend of a test, and its service processes."""

    def __init__(self, test, group, backend_options):
        self.test = test
        self.group = group
        self.host = '%s@%s' % (SERVICE_HOST, group)
        conf_dir = os.path.join(test.root, 'conf')
        self.conf = os.path.join(conf_dir, '%s-cinder.conf' % group)
        self.logs = []
        lines = [
            '[DEFAULT]',
            'host = %s' % SERVICE_HOST,
            'state_path = %s' % CONF.state_path,
            'rootwrap_config = %s' % CONF.rootwrap_config,
            'transport_url = fake:/',
            'enabled_backends = %s' % group,
            'use_stderr = false',
            'debug = false',
            # Seconds: the service reports its state this often.
            'report_interval = 2',
            '',
            '[database]',
            'connection = %s' % CONF.database.connection,
            '',
            '[oslo_concurrency]',
            'lock_path = %s' % CONF.oslo_concurrency.lock_path,
            '',
            '[coordination]',
            'backend_url = %s' % CONF.coordination.backend_url,
            '',
            '[%s]' % group,
            'volume_driver = incsnap_driver.driver.'
            'IncrementalSnapshotNfsDriver',
        ]
        # The restarted service copies at full speed: Cinder makes a
        # blkio cgroup of volume_copy_bps_limit, which these machines
        # cannot (see service_child).
        lines += ['%s = %s' % (key, _ini_value(value))
                  for key, value in sorted(backend_options.items())
                  if key != 'volume_copy_bps_limit']
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')

    def _log_file(self, what):
        path = os.path.join(self.test.root, 'conf', '%s-%s-%d.log' % (
            self.group, what, len(self.logs)))
        self.logs.append(path)
        return path

    def _spawn(self, args, log):
        proc = subprocess.Popen(args + ['--config-file', self.conf,
                                        '--log-file', log],
                                cwd=base.REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        self.test.addCleanup(self._kill_group, proc)
        return proc

    def run_operation(self, operation, ids, copy_speed):
        """The service process that runs one operation (to be killed).

        ``copy_speed``: its ``volume_copy_bps_limit``. Its stdout says
        ``ready`` once started (its start-up scan done) and ``done`` when
        the operation returned.
        """
        log = self._log_file(operation)
        proc = self._spawn([sys.executable, '-m',
                            'tests.functional.service_child', self.group,
                            str(int(copy_speed)), operation] + list(ids),
                           log)
        proc.log = log
        return proc

    def start(self):
        """The real cinder-volume, restarted; returns its process."""
        log = self._log_file('cinder-volume')
        proc = self._spawn([os.path.join(os.path.dirname(sys.executable),
                                         'cinder-volume')], log)
        proc.log = log
        proc.started = time.monotonic()
        return proc

    @staticmethod
    def read_line(proc, wanted, timeout=120):
        """Wait for a line ``wanted`` on the process's stdout."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError('service exited (%s) before %r: %s'
                                     % (proc.poll(), wanted, seen[-20:]))
            seen.append(line.rstrip())
            if line.strip() == wanted:
                return
        raise AssertionError('no %r in %s s' % (wanted, timeout))

    @staticmethod
    def log_lines(proc, text):
        try:
            with open(proc.log) as f:
                return [line.rstrip() for line in f if text in line]
        except FileNotFoundError:
            return []

    def wait_log(self, proc, text, timeout=120):
        """The log lines holding ``text``, once there is one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.log_lines(proc, text)
            if found:
                return found
            if proc.poll() is not None:
                raise AssertionError('service exited (%s) before logging '
                                     '%r; see %s' % (proc.returncode, text,
                                                     proc.log))
            time.sleep(0.1)
        raise AssertionError('no %r in %s within %s s'
                             % (text, proc.log, timeout))

    def kill(self, proc):
        """SIGKILL the service process (not the tools it started)."""
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self, proc, timeout=60):
        """Stop it as an operator does (SIGTERM to its process group)."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    @staticmethod
    def _kill_group(proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
