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
"""Which processes hold a file, QEMU tools on a file, children, killing.

The lookups are the driver's own (:mod:`incsnap_driver.qemu.processes`),
so a test finds the QEMU tools exactly as the driver does when it stops
an orphaned storage daemon.
"""

import os
import signal
import time

from incsnap_driver.qemu import processes

pids_with_argument = processes.pids_with_argument
cmdline = processes.cmdline
running = processes.running
start_time = processes.start_time


def runs_program(args, program):
    """Whether command line ``args`` runs ``program``.

    Directly, by path, or through a wrapper such as sudo (``.../program``
    among the arguments).
    """
    return bool(args) and (args[0].startswith(program) or
                           any('/' + program in a for a in args))


def qemu_holders(text):
    """PIDs of processes naming QEMU and ``text`` on their command line.

    A QEMU tool or VM on a file, or the root helper running one.
    """
    return [pid for pid in pids_with_argument(text)
            if 'qemu' in ' '.join(cmdline(pid))]


def program_pids(text, program='qemu-storage-daemon'):
    """PIDs of ``program`` processes with ``text`` on their command line.

    The program itself, not a root helper or a short-lived tool that
    merely names the same file.
    """
    return [pid for pid in pids_with_argument(text)
            if runs_program(cmdline(pid), program)]


def find_process(text, program='qemu-storage-daemon', timeout=20):
    """PID of the ``program`` process with ``text`` on its command line.

    Waited for up to ``timeout`` seconds; AssertionError if none comes.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = program_pids(text, program)
        if found:
            return found[0]
        time.sleep(0.005)
    raise AssertionError('no %s for %s' % (program, text))


def parent(pid):
    """The parent's PID of ``pid``; ``None`` once it is gone."""
    stat = processes.read(pid, 'stat')
    if stat is None:
        return None
    # The parent follows the state, after the name in parentheses.
    return int(stat.rsplit(b')', 1)[1].split()[1])


def children(pid):
    """PIDs whose parent is ``pid``."""
    return [kid for kid in processes.pids() if parent(kid) == pid]


def kill(pids, sig=signal.SIGKILL):
    """Send ``sig`` to each of ``pids``; those already gone are skipped."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
