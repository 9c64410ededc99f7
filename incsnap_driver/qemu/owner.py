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
"""Who started a QEMU tool: the mark on its command line.

Every long-running QEMU tool the driver starts (``qemu-storage-daemon``,
``qemu-img convert``) carries on its command line the Cinder service that
started it and that service's process::

    --object secret,id=incsnap-owner,data=<host@backend>:<pid>:<start time>

A ``secret`` object is inert: QEMU keeps it in memory and uses it for
nothing unless a block device names it (none does). The mark survives
the service's death, so a restarted service, or another service on the
same machine (a node of the same cluster), tells from ``/proc`` alone
whose a tool is and whether the process that started it still runs
(:func:`verdict`).

Facts (QEMU 7.2): ``qemu-img`` (every sub-command) and
``qemu-storage-daemon`` accept ``--object``; a ``,`` inside an option
value is written ``,,``.
"""

import dataclasses
import os

from incsnap_driver.qemu import processes

OBJECT_ID = 'incsnap-owner'
_PREFIX = 'secret,id=%s,data=' % OBJECT_ID

# Verdicts on a tool found running on a volume's files.
ORPHAN = 'orphan'        # ours, its starting process is gone: stop it
LIVE = 'live'            # ours, but another live process started it
FOREIGN = 'foreign'      # another service's (another node, backend)
UNMARKED = 'unmarked'    # no mark: not started by this driver version


@dataclasses.dataclass(frozen=True)
class Owner:
    """A service (Cinder's ``host@backend``) and its process."""

    service: str
    pid: int
    start: int

    def args(self):
        """The ``--object`` arguments marking a tool as started by us."""
        data = '%s:%d:%d' % (self.service, self.pid, self.start)
        return ['--object', _PREFIX + data.replace(',', ',,')]

    def describe(self):
        return 'service %s (process %d)' % (self.service, self.pid)


def current(service):
    """This process, as the owner of the tools it starts for ``service``."""
    pid = os.getpid()
    return Owner(service=service, pid=pid, start=processes.start_time(pid))


def of(args):
    """The :class:`Owner` marked on a command line, or None."""
    for flag, value in zip(args, args[1:]):
        if flag != '--object' or not value.startswith(_PREFIX):
            continue
        data = value[len(_PREFIX):].replace(',,', ',')
        service, _sep, rest = data.rpartition(':')
        service, _sep, pid = service.rpartition(':')
        try:
            return Owner(service=service, pid=int(pid), start=int(rest))
        except ValueError:
            return None
    return None


def verdict(found, me, starter_start_now):
    """Whether ``me`` may stop a tool marked ``found``.

    ``starter_start_now``: the start time of the process ``found.pid``
    now (None when no such process exists). Plain values in, one of
    :data:`ORPHAN`, :data:`LIVE`, :data:`FOREIGN`, :data:`UNMARKED` out.

    The caller holds the volume's lock, so no operation of this process
    owns a tool on the volume: one this very process started is an
    orphan too (a daemon whose start failed half way).
    """
    if found is None:
        return UNMARKED
    if found.service != me.service:
        return FOREIGN
    if (found.pid, found.start) == (me.pid, me.start):
        return ORPHAN
    if starter_start_now is not None and starter_start_now == found.start:
        return LIVE
    return ORPHAN
