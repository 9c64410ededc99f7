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
"""qemu-storage-daemon: QEMU's block layer without a VM.

The daemon opens images as block nodes (``--blockdev``) and runs the same
block jobs a VM's QEMU runs (backup, bitmap changes), driven over QMP. This
module starts one, runs jobs on it and stops it; what the jobs do is decided
by :mod:`incsnap_driver.qemu.offline`, and one left running by a killed
service is stopped by :mod:`incsnap_driver.qemu.orphans`.

Facts (QEMU 7.2):

* ``--daemonize`` makes the starting process exit only once start-up is
  complete (monitor socket listening, images opened), so the caller can
  connect right after ``execute`` returns; errors opening an image make it
  exit non-zero with QEMU's message on stderr.
* An image a daemon holds open for writing is locked: other QEMU tools
  need ``-U`` to read it and cannot write it.
* Persistent bitmaps are written back to qcow2 on a clean exit (QMP
  ``quit``). A daemon killed with SIGKILL leaves them flagged ``in-use``,
  i.e. inconsistent.
* A job created with ``auto-dismiss: false`` stays in ``query-jobs`` as
  ``concluded`` (with ``error`` when it failed) until ``job-dismiss``.
"""

import json
import os
import shutil
import tempfile
import time

from oslo_concurrency import processutils
from oslo_log import log as logging

from incsnap_driver.qemu import processes
from incsnap_driver.qemu import qmp

LOG = logging.getLogger(__name__)

POLL_INTERVAL = 0.2


WORKDIR_PREFIX = 'incsnap-qsd-'


def workdir_of(args):
    """The private work folder named by a daemon's --pidfile, if ours."""
    for flag, value in zip(args, args[1:]):
        if flag == '--pidfile':
            workdir = os.path.dirname(value)
            if os.path.basename(workdir).startswith(WORKDIR_PREFIX):
                return workdir
    return None


def wait_exit(pid, timeout):
    """Wait until process ``pid`` no longer runs; False if it still does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes.running(pid):
            return True
        time.sleep(0.05)
    return not processes.running(pid)


class DaemonError(Exception):
    """The daemon could not be started, or a job on it failed."""


class JobTimeout(DaemonError):
    """A job did not conclude within its time limit and was cancelled."""


class StorageDaemon:
    """One qemu-storage-daemon process with a private QMP socket.

    :param blockdevs: ``--blockdev`` dicts, each with a ``node-name``.
    :param execute: command runner (root helper already bound, if any).
    :param owner_uid: when the daemon runs as another user than this
        process (root helper), the socket is handed to this uid.
    :param owner: the :class:`~incsnap_driver.qemu.owner.Owner` marked
        on its command line (who may stop it once orphaned).
    """

    def __init__(self, blockdevs, execute=processutils.execute,
                 owner_uid=None, workdir_base=None, owner=None,
                 extra_args=None):
        self.blockdevs = blockdevs
        # A callable (workdir -> argument list) for exports, servers.
        self.extra_args = extra_args
        self.execute = execute
        self.owner_uid = owner_uid
        self.workdir_base = workdir_base
        self.owner = owner
        self.workdir = None
        self.pid = None
        self.client = None

    @classmethod
    def attach(cls, pid, workdir, execute=processutils.execute):
        """A daemon started by another process, to be stopped."""
        found = cls([], execute=execute)
        found.pid = pid
        found.workdir = workdir
        return found

    def stop_found(self, timeout):
        """Stop a daemon found running (:meth:`attach`).

        Over its own monitor when it answers (a clean quit writes the
        bitmaps back), else killed.
        """
        self.client = qmp.QMPClient(self.socket_path, timeout=5)
        try:
            self.client.connect()
        except (qmp.QMPConnectionError, OSError, ValueError):
            self.client = None
        self.stop(clean=self.client is not None, timeout=timeout)

    @property
    def socket_path(self):
        return os.path.join(self.workdir, 'qmp.sock')

    @property
    def pidfile(self):
        return os.path.join(self.workdir, 'qsd.pid')

    def start(self):
        self.workdir = tempfile.mkdtemp(prefix=WORKDIR_PREFIX,
                                        dir=self.workdir_base)
        cmd = ['qemu-storage-daemon', '--daemonize',
               '--pidfile', self.pidfile,
               '--chardev',
               'socket,id=incsnap-qmp,path=%s,server=on,wait=off'
               % self.socket_path,
               '--monitor', 'chardev=incsnap-qmp']
        if self.owner is not None:
            cmd += self.owner.args()
        for blockdev in self.blockdevs:
            cmd += ['--blockdev', json.dumps(blockdev, sort_keys=True)]
        if self.extra_args is not None:
            cmd += list(self.extra_args(self.workdir))
        try:
            self.execute(*cmd)
        except processutils.ProcessExecutionError as exc:
            # The starting process may have died (killed) after forking
            # the daemon, which would then run on, holding the images.
            self._kill_strays()
            self._remove_workdir()
            raise DaemonError('qemu-storage-daemon failed to start: %s'
                              % (exc.stderr or str(exc)).strip())
        try:
            if self.owner_uid is not None:
                self.execute('chown', str(self.owner_uid), self.socket_path)
            self.client = qmp.QMPClient(self.socket_path)
            self.client.connect()
        except (processutils.ProcessExecutionError,
                qmp.QMPConnectionError) as exc:
            self.pid = self._read_pid()
            self.kill()
            raise DaemonError(str(exc))
        # The daemon's pid from the connection (SO_PEERCRED) rather than
        # its pid file, which is root's when the daemon runs as root:
        # reading that would be one more command through the root helper.
        # The daemon itself listens on the socket (it daemonizes before it
        # opens its monitor), in this instance's private folder.
        self.pid = self.client.peer_pid()
        return self

    def _kill_strays(self, settle=1.0):
        """Kill any daemon started with this instance's private socket.

        The socket path is unique to this instance, so a process whose
        command line names it is ours. Looked for during ``settle``
        seconds: a forked child may take a moment to appear.
        """
        deadline = time.monotonic() + settle
        while True:
            for pid in processes.pids_with_argument(self.socket_path):
                LOG.warning('Killing stray qemu-storage-daemon %s.', pid)
                try:
                    self.execute('kill', '-9', str(pid))
                except processutils.ProcessExecutionError:
                    pass
            if time.monotonic() >= deadline:
                return
            time.sleep(0.1)

    def _read_pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except PermissionError:
            out, _err = self.execute('cat', self.pidfile)
            return int(out.strip())

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        # A failed job or command still leaves QEMU answering: quit cleanly
        # so that the volume's bitmaps are written back consistent. Only a
        # broken monitor connection leaves killing as the way out.
        broken = (exc_type is not None and
                  issubclass(exc_type, qmp.QMPConnectionError))
        self.stop(clean=not broken)

    # -- QMP ---------------------------------------------------------------

    def qmp(self, command, **arguments):
        return self.client.execute(command, **arguments)

    def run_job(self, job_id, timeout, progress=None):
        """Wait for job ``job_id`` to conclude, feeding ``progress``.

        ``progress`` is called with an integer percentage. On timeout the
        job is cancelled and :class:`JobTimeout` raised; a failed job raises
        :class:`DaemonError` with QEMU's reason.
        """
        deadline = time.monotonic() + timeout
        last_percent = None
        while True:
            job = self._find_job(job_id)
            if job is None:
                raise DaemonError('job %s vanished' % job_id)
            total = job.get('total-progress') or 0
            done = job.get('current-progress') or 0
            percent = int(done * 100 / total) if total else 0
            if progress is not None and percent != last_percent:
                progress(percent)
                last_percent = percent
            if job['status'] == 'concluded':
                self.qmp('job-dismiss', id=job_id)
                if job.get('error'):
                    raise DaemonError('job %s failed: %s'
                                      % (job_id, job['error']))
                return
            if time.monotonic() > deadline:
                LOG.warning('Job %s did not finish in %s s; cancelling it.',
                            job_id, timeout)
                self._cancel(job_id)
                raise JobTimeout('job %s did not finish within %s seconds'
                                 % (job_id, timeout))
            time.sleep(POLL_INTERVAL)

    def _find_job(self, job_id):
        for job in self.qmp('query-jobs'):
            if job.get('id') == job_id:
                return job
        return None

    def _cancel(self, job_id):
        try:
            self.qmp('job-cancel', id=job_id)
        except qmp.QMPError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            job = self._find_job(job_id)
            if job is None or job['status'] == 'concluded':
                if job is not None:
                    self.qmp('job-dismiss', id=job_id)
                return
            time.sleep(POLL_INTERVAL)

    def bitmaps(self, node_name):
        """The dirty bitmaps QEMU holds for ``node_name``."""
        for node in self.qmp('query-named-block-nodes', flat=True):
            if node.get('node-name') == node_name:
                return node.get('dirty-bitmaps') or []
        raise DaemonError('no block node %s' % node_name)

    # -- stopping ----------------------------------------------------------

    def stop(self, clean=True, timeout=30):
        """Quit (flushing bitmaps) or, with ``clean=False``, kill."""
        try:
            if clean and self.client is not None:
                self.client.quit()
                if self._wait_exit(timeout):
                    return
                LOG.warning('qemu-storage-daemon %s did not exit after quit;'
                            ' killing it.', self.pid)
            self.kill()
        finally:
            if self.client is not None:
                self.client.close()
            self._remove_workdir()

    def kill(self):
        if self.pid and self._alive():
            try:
                self.execute('kill', '-9', str(self.pid))
            except processutils.ProcessExecutionError:
                pass
            self._wait_exit(10)
        self._remove_workdir()

    def _alive(self):
        return processes.running(self.pid)

    def _wait_exit(self, timeout):
        return wait_exit(self.pid, timeout)

    def _remove_workdir(self):
        if self.workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)
