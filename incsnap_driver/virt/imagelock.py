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
"""Whether QEMU still holds its image locks on a file.

A libvirt backup job's target is locked by the compute host's QEMU while
the job runs; the incremental target is rebased right after the job, so
the driver waits for the lock to go first.
"""

import errno
import fcntl
import os
import struct
import time

import eventlet
from oslo_log import log as logging

from incsnap_driver.virt import errors

LOG = logging.getLogger(__name__)

# QEMU's image locking (block/file-posix.c): one byte per permission at
# offset 100 + bit ("this process holds the permission") and 200 + bit
# ("this process does not share it"); bit 1 is WRITE.
_QEMU_LOCK_BASE = 100
_QEMU_LOCK_LEN = 200


def is_locked(path):
    """Whether a QEMU process holds any of its image locks on ``path``.

    Uses ``F_OFD_GETLK`` (what QEMU itself uses) on the lock bytes QEMU
    takes, through the file as this host sees it (on NFS the server answers
    for every client's locks).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        probe = struct.pack('hhqqi', fcntl.F_WRLCK, os.SEEK_SET,
                            _QEMU_LOCK_BASE, _QEMU_LOCK_LEN, 0)
        result = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, probe)
        return struct.unpack('hhqqi', result)[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


def wait_unlocked(path, timeout=30.0, interval=0.2):
    """Wait until no QEMU holds a lock on ``path``.

    ``path`` is a just finished backup target. Returns when unlocked;
    raises :class:`errors.TargetLocked` after ``timeout`` seconds.

    Apache CloudStack saw ``qemu-img rebase`` of a target fail right after
    the job because QEMU still held the target's write lock for a moment.
    On libvirt 9.0 the lock was already gone when ``jobStats`` reported the
    job over, every time we looked; call this before the rebase anyway,
    with ``path`` as the *Cinder* host sees the file (the share mount).
    A path that does not exist raises ``FileNotFoundError``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if not is_locked(path):
                return
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise
            LOG.debug('Cannot probe the locks of %s: %s', path, exc)
            return
        if time.monotonic() >= deadline:
            raise errors.TargetLocked('%s is still locked by QEMU after %s s'
                                      % (path, timeout))
        eventlet.sleep(interval)
