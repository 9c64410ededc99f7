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
"""The dirty extents of a qcow2 persistent bitmap, as QEMU reports them.

The image is opened read-only by a qemu-storage-daemon exporting it over
NBD (a UNIX socket) with the bitmap; ``nbdinfo --map`` reads the
``qemu:dirty-bitmap:<name>`` meta context. Test-side only: the volume
driver's own code writes the production manifest.
"""

import json
import os
import select
import shutil
import signal
import tempfile

from tests.common import commands


def _stop(pidfile):
    """End the daemon and wait until it has exited (its image lock gone).

    It is not our child (--daemonize): a pidfd tells when it is gone.
    """
    with open(pidfile) as f:
        pid = int(f.read().strip())
    fd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGTERM)
        if not select.select([fd], [], [], 60)[0]:
            raise RuntimeError('qemu-storage-daemon %d did not exit' % pid)
    finally:
        os.close(fd)


def bitmap_extents(path, bitmap):
    """``[[offset, length], ...]`` dirty in ``bitmap`` of ``path``.

    Sorted, adjacent dirty ranges merged.
    """
    workdir = tempfile.mkdtemp(prefix='incsnap-map-')
    sock = os.path.join(workdir, 'nbd.sock')
    pidfile = os.path.join(workdir, 'pid')
    try:
        # --daemonize returns once the export is up: no wait for a socket.
        commands.run(
            'qemu-storage-daemon', '--daemonize', '--pidfile', pidfile,
            '--blockdev', 'driver=file,node-name=file,filename=%s,'
            'read-only=on' % path,
            '--blockdev', 'driver=qcow2,node-name=disk,file=file,'
            'read-only=on',
            '--nbd-server', 'addr.type=unix,addr.path=%s' % sock,
            '--export', 'type=nbd,id=export,node-name=disk,name=disk,'
            'bitmaps.0=%s' % bitmap)
        try:
            out = commands.run(
                'nbdinfo', '--json', '--map=qemu:dirty-bitmap:%s' % bitmap,
                'nbd+unix:///disk?socket=%s' % sock)
        finally:
            _stop(pidfile)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    extents = []
    for entry in json.loads(out):
        if not entry['type'] & 1:
            continue
        offset, length = entry['offset'], entry['length']
        if extents and extents[-1][0] + extents[-1][1] == offset:
            extents[-1][1] += length
        else:
            extents.append([offset, length])
    return extents
