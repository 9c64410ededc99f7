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
"""QEMU tools a killed service left running on a volume's files.

A cinder-volume killed while a ``qemu-storage-daemon`` (daemonized) or a
``qemu-img convert`` (its child) worked leaves that tool running: it
holds the image's lock, and every later operation on the image, a VM's
attach included, would fail. Such a tool is stopped only when its mark
(:mod:`incsnap_driver.qemu.owner`) names this service and the process
that started it is gone; tools of another service (a node of the same
cluster on this machine, another backend) or of a live process are never
touched, only reported.

A storage daemon is asked to quit over its own monitor socket (QEMU then
cancels its job and writes the bitmaps back, consistent), and killed if
it does not answer. A ``qemu-img convert`` writes only a partial file
nobody will use: it is killed.
"""

import dataclasses
import os

from oslo_concurrency import processutils
from oslo_log import log as logging

from incsnap_driver.qemu import daemon as daemon_mod
from incsnap_driver.qemu import owner as owner_mod
from incsnap_driver.qemu import processes

LOG = logging.getLogger(__name__)

STORAGE_DAEMON = 'qemu-storage-daemon'
QEMU_IMG = 'qemu-img'
TOOLS = (STORAGE_DAEMON, QEMU_IMG)


@dataclasses.dataclass(frozen=True)
class Tool:
    """A QEMU tool process: its PID, program and command line."""

    pid: int
    program: str
    args: tuple

    def describe(self):
        return '%s %d' % (self.program, self.pid)


@dataclasses.dataclass
class Reaped:
    """What :func:`reap` did: tools stopped, tools left (and why)."""

    stopped: list = dataclasses.field(default_factory=list)
    left: list = dataclasses.field(default_factory=list)


def tool_of(pid, args):
    """The :class:`Tool` a command line runs, or None (not a QEMU tool).

    Only the tool itself counts, not a root helper running it (sudo,
    cinder-rootwrap): those end with it.
    """
    if not args:
        return None
    program = os.path.basename(args[0])
    if program not in TOOLS:
        return None
    return Tool(pid=pid, program=program, args=tuple(args))


def tools_naming(text):
    """The QEMU tools whose command line contains ``text``, one /proc pass."""
    found = []
    for pid in processes.pids_with_argument(text):
        tool = tool_of(pid, processes.cmdline(pid))
        if tool is not None:
            found.append(tool)
    return found


def judge(tool, me):
    """(verdict, owner) of ``tool`` for ``me``: see owner.verdict.

    A storage daemon without a mark but with this driver's private work
    folder was started by a version of the driver older than the marks
    (which ran no cluster): it is taken for an orphan of this service.
    """
    found = owner_mod.of(tool.args)
    if found is None:
        if (tool.program == STORAGE_DAEMON and
                daemon_mod.workdir_of(tool.args) is not None):
            return owner_mod.ORPHAN, None
        return owner_mod.UNMARKED, None
    now = None
    if processes.running(found.pid):
        now = processes.start_time(found.pid)
    return owner_mod.verdict(found, me, now), found


def reap(image_path, me, execute=processutils.execute, timeout=30):
    """Stop the orphaned QEMU tools of ``me`` naming ``image_path``.

    ``image_path`` matches as a prefix of every argument, so the volume
    file's path finds tools on its snapshot folder and partial copies
    too. The caller holds the volume's lock. Returns :class:`Reaped`.
    """
    result = Reaped()
    for tool in tools_naming(image_path):
        verdict, found = judge(tool, me)
        if verdict == owner_mod.UNMARKED:
            continue  # not this driver's (a VM's QEMU is no tool)
        if verdict != owner_mod.ORPHAN:
            why = ('started by live process %d of this service'
                   % found.pid if verdict == owner_mod.LIVE
                   else 'started by %s' % found.describe())
            LOG.warning('Not stopping %(tool)s on %(image)s: %(why)s.',
                        {'tool': tool.describe(), 'image': image_path,
                         'why': why})
            result.left.append((tool, why))
            continue
        LOG.warning('Stopping %(tool)s left running on %(image)s by an '
                    'interrupted operation%(who)s.',
                    {'tool': tool.describe(), 'image': image_path,
                     'who': ' of %s' % found.describe() if found else ''})
        if tool.program == STORAGE_DAEMON:
            _stop_daemon(tool, execute, timeout)
        else:
            _kill(tool.pid, execute)
        result.stopped.append(tool)
    return result


def _stop_daemon(tool, execute, timeout):
    workdir = daemon_mod.workdir_of(tool.args)
    if workdir is None:  # no monitor socket of ours to ask
        _kill(tool.pid, execute)
        return
    orphan = daemon_mod.StorageDaemon.attach(tool.pid, workdir,
                                             execute=execute)
    orphan.stop_found(timeout)


def _kill(pid, execute, timeout=10):
    try:
        execute('kill', '-9', str(pid))
    except processutils.ProcessExecutionError:
        pass  # gone already
    daemon_mod.wait_exit(pid, timeout)
