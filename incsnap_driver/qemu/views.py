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
"""A raw view of a qcow2 image as a regular file: a FUSE export.

``qemu-storage-daemon`` opens the image (through its backing chain) and
exports the guest-visible bytes on a regular file (the mount point) with
its FUSE export; the daemon outlives the call that starts it and is
stopped by :func:`stop`. Facts (QEMU 7.2, Debian 12):

* the mount point must be an existing regular file; the export shows
  the image's virtual size; a read-only export refuses writes (EACCES);
* mounting needs /dev/fuse, which is root's only here: the daemon runs
  through the root helper, with ``allow-other`` so that the service user
  reads it, and the file is chowned to that user (the export supports
  chown);
* opening a writable export with O_TRUNC does not shrink the image (the
  export is not growable), so Cinder's ``open(path, 'wb')`` is safe;
* on ``quit`` the daemon unmounts the export and writes the bitmaps back;
  a daemon killed with SIGKILL leaves a dead mount ("Transport endpoint
  is not connected"), removed by :func:`stop` with ``umount``.
"""

import json
import os

from oslo_concurrency import processutils
from oslo_log import log as logging

from incsnap_driver.qemu import daemon as daemon_mod

LOG = logging.getLogger(__name__)

FILE_NODE = 'view-file'
FORMAT_NODE = 'view-fmt'
EXPORT = 'incsnap-view'


def is_mounted(path):
    """``path`` is a mount point in /proc/mounts (a live or dead export)."""
    real = os.path.realpath(path)
    with open('/proc/mounts') as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) > 1 and fields[1].replace('\\040', ' ') == real:
                return True
    return False


def start(image_path, mountpoint, writable, execute=processutils.execute,
          owner_uid=None, owner=None, workdir_base=None):
    """Export ``image_path`` (qcow2) raw on the file ``mountpoint``.

    Returns the daemon's work folder (made in ``workdir_base``, default
    the temporary folder: a UNIX socket path must stay short), for
    :func:`stop`.
    """
    blockdevs = [
        {'driver': 'file', 'filename': image_path, 'node-name': FILE_NODE},
        {'driver': 'qcow2', 'file': FILE_NODE, 'node-name': FORMAT_NODE,
         'read-only': not writable},
    ]
    export = {'type': 'fuse', 'id': EXPORT, 'node-name': FORMAT_NODE,
              'mountpoint': mountpoint, 'writable': bool(writable),
              'allow-other': 'on'}
    qsd = daemon_mod.StorageDaemon(
        blockdevs, execute=execute, owner_uid=owner_uid, owner=owner,
        workdir_base=workdir_base,
        extra_args=lambda _w: ['--export', json.dumps(export,
                                                      sort_keys=True)])
    qsd.start()
    try:
        if owner_uid is not None:
            execute('chown', str(owner_uid), mountpoint)
    except processutils.ProcessExecutionError:
        qsd.stop()
        raise
    # The daemon runs on; its monitor is asked to quit by stop().
    qsd.client.close()
    return qsd.workdir


def stop(workdirs, mountpoint, execute=processutils.execute, timeout=60):
    """Stop the view's daemon (clean quit: bitmaps written back), unmount.

    ``workdirs``: what :func:`start` returned. Also for a daemon that is
    gone (killed): its dead mount is removed.
    """
    for workdir in workdirs:
        if not (os.path.basename(workdir).startswith(
                daemon_mod.WORKDIR_PREFIX) and os.path.isdir(workdir)):
            continue
        found = daemon_mod.StorageDaemon.attach(None, workdir,
                                                execute=execute)
        try:
            found.pid = found._read_pid()
        except (OSError, ValueError, processutils.ProcessExecutionError):
            found.pid = None
        if found.pid is None:
            found.kill()  # nothing runs: only the folder goes
            continue
        found.stop_found(timeout)
    if is_mounted(mountpoint):
        LOG.warning('Removing the dead raw view mount %s.', mountpoint)
        execute('umount', '-l', mountpoint)
