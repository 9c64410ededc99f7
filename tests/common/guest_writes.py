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
"""Writes a guest makes, and the model of what its disk then holds.

No guest OS is needed: in a running domain, the QEMU monitor's ``qemu-io``
writes on the virtio disk's block backend as the guest would (then a
flush, which a guest does for what must survive); offline, ``qemu-io`` on
the image file stands in for a VM (DESIGN.md §3).

The *model* is a sparse raw file to which a test applies the same writes;
a copy of it taken when a snapshot is taken is that snapshot's expected
content, checked with :func:`tests.common.images.assert_same_content`.
"""

import shutil

from tests.common import commands

# The block backend of the N-th virtio disk (vda = 0) as libvirt names it.
DISK_BACKEND = '/machine/peripheral/virtio-disk%d/virtio-backend'


class MonitorError(AssertionError):
    """The monitor's qemu-io printed something: the request failed."""


def io_command(offset, length, byte):
    """qemu-io's write of ``length`` bytes ``byte``; ``None``: zeroes."""
    if byte is None:
        return 'write -q -z %d %d' % (offset, length)
    return 'write -q -P 0x%02x %d %d' % (byte, offset, length)


def monitor_io(domain, command, disk_index=0):
    """Run qemu-io ``command`` on a running domain's disk, via the monitor.

    ``domain``: a :class:`tests.common.domains.Domain` (anything with
    ``hmp(command)``).
    """
    out = domain.hmp('qemu-io -d %s "%s"'
                     % (DISK_BACKEND % disk_index, command))
    if out.strip():
        raise MonitorError('monitor: qemu-io %s on disk %d -> %s'
                           % (command, disk_index, out))


def guest_write(domain, offset, length, byte, disk_index=0, flush=True):
    """The guest writes ``byte`` * ``length`` at ``offset`` (then flushes).

    Without the flush, QEMU may keep qcow2 metadata cached: what a SIGKILL
    of QEMU loses.
    """
    monitor_io(domain, io_command(offset, length, byte), disk_index)
    if flush:
        guest_flush(domain, disk_index)


def guest_flush(domain, disk_index=0):
    """Flush the disk as a guest would (qcow2 metadata to the file)."""
    monitor_io(domain, 'flush', disk_index)


def offline_write(path, offset, length, byte, fmt='qcow2'):
    """Write into an image no QEMU has open for writing (qemu-io)."""
    commands.run('qemu-io', '-f', fmt, '-c',
                 io_command(offset, length, byte), path)


class Model:
    """A sparse raw file: what the disk must hold after the same writes.

    It is a path-like object (``os.fspath``), so that it can be given to
    ``qemu-img`` and to :mod:`tests.common.images` as it is.
    """

    def __init__(self, path, size):
        self.path = path
        with open(path, 'wb') as f:
            f.truncate(size)

    def __fspath__(self):
        return self.path

    def __str__(self):
        return self.path

    def write(self, offset, length, byte):
        """As the disk's write; ``byte`` ``None`` writes zeroes."""
        with open(self.path, 'r+b') as f:
            f.seek(offset)
            f.write(bytes([byte or 0]) * length)

    def resize(self, size):
        """The disk grew (extend) or shrank."""
        with open(self.path, 'r+b') as f:
            f.truncate(size)

    def copy(self, dest):
        """A copy now, at ``dest``: the expected content of a snapshot."""
        shutil.copyfile(self.path, dest)
        return dest
