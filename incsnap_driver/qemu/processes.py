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
"""Processes of this host, read from /proc.

Which processes name a file (or socket) on their command line, what that
command line is, and whether a process still runs. The storage daemon
module finds the daemons it must stop with these; the tests use the same
functions to find the QEMU tools they kill or expect gone.

Facts (Linux):

* ``/proc/<pid>/cmdline`` holds the arguments separated by NUL bytes; it
  is empty for a zombie, and unreadable once the process is gone.
* A process whose main thread has exited shows as a zombie (``Z``) in
  ``/proc/<pid>/stat`` while its other threads may still run, closing
  images and holding their locks: only every task in
  ``/proc/<pid>/task`` tells whether any of it still runs.
* Field 22 of ``/proc/<pid>/stat`` is the process's start time in clock
  ticks after boot: a PID and its start time name one process, even once
  the PID is reused.
"""

import os


def pids():
    """PIDs of every process now."""
    return [int(entry) for entry in os.listdir('/proc') if entry.isdigit()]


def read(pid, name):
    """The bytes of ``/proc/<pid>/<name>``; ``None`` once it is gone."""
    try:
        with open('/proc/%d/%s' % (pid, name), 'rb') as f:
            return f.read()
    except OSError:
        return None


def pids_with_argument(text):
    """PIDs of processes whose command line contains ``text``."""
    wanted = text.encode()
    return [pid for pid in pids() if wanted in (read(pid, 'cmdline') or b'')]


def cmdline(pid):
    """The arguments of process ``pid``; ``[]`` when it is gone."""
    raw = read(pid, 'cmdline') or b''
    return [a.decode(errors='replace') for a in raw.split(b'\0') if a]


def _fields(stat):
    """The fields of a ``stat`` file after the name: state is the first.

    The name, in parentheses, may itself hold spaces and parentheses.
    """
    return stat.rsplit(b')', 1)[1].split()


def state(stat):
    """The state letter in a ``stat`` file's text (after the name)."""
    return _fields(stat)[0].decode()


def start_time(pid):
    """When process ``pid`` started (clock ticks after boot); None if gone.

    A zombie keeps its start time; :func:`running` tells whether it runs.
    """
    stat = read(pid, 'stat')
    if stat is None:
        return None
    # Field 22 overall; the fields after the name start at field 3.
    return int(_fields(stat)[22 - 3])


def running(pid):
    """True while any thread of process ``pid`` runs (not a zombie)."""
    try:
        tasks = os.listdir('/proc/%d/task' % pid)
    except (FileNotFoundError, ProcessLookupError):
        return False
    for task in tasks:
        stat = read(pid, 'task/%s/stat' % task)
        if stat is not None and state(stat) not in ('Z', 'X'):
            return True
    return False
