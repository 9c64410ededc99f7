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
"""The dirty extents of a persistent bitmap, read through NBD.

A short-lived ``qemu-storage-daemon`` opens the image read-only (a
read-only open leaves the bitmaps' header flags alone) and exports it
over NBD on a private UNIX socket with the bitmap as the meta context
``qemu:dirty-bitmap:NAME``; ``nbdinfo --map --json`` (libnbd-bin) lists
it as extents of type 1 (dirty) and 0 (clean). Facts (QEMU 7.2, libnbd
1.14): extents cover the whole disk, in order, at the bitmap's
granularity; the image must not be open for writing elsewhere.
"""

import json
import os

from oslo_concurrency import processutils

from incsnap_driver.qemu import daemon as daemon_mod

FILE_NODE = 'extents-file'
FORMAT_NODE = 'extents-fmt'
EXPORT = 'incsnap-extents'
SOCKET = 'nbd.sock'
DIRTY = 1


def parse_map(entries):
    """[[offset, length], ...] of the dirty entries of ``nbdinfo --map``."""
    found = []
    for entry in entries:
        if int(entry.get('type', 0)) & DIRTY:
            offset, length = int(entry['offset']), int(entry['length'])
            if found and found[-1][0] + found[-1][1] == offset:
                found[-1][1] += length
            else:
                found.append([offset, length])
    return found


def _granularity(qsd, bitmap):
    for state in qsd.bitmaps(FORMAT_NODE):
        if state.get('name') == bitmap:
            return int(state['granularity'])
    raise daemon_mod.DaemonError('bitmap %s not found' % bitmap)


def dirty_extents(image_path, bitmap, execute=processutils.execute,
                  owner_uid=None, owner=None, workdir_base=None):
    """(extents, granularity) of ``bitmap`` in the qcow2 ``image_path``."""
    blockdevs = [
        {'driver': 'file', 'filename': image_path, 'node-name': FILE_NODE},
        {'driver': 'qcow2', 'file': FILE_NODE, 'node-name': FORMAT_NODE,
         'read-only': True},
    ]

    def exports(workdir):
        sock = os.path.join(workdir, SOCKET)
        return ['--nbd-server', 'addr.type=unix,addr.path=%s' % sock,
                '--export', json.dumps({
                    'type': 'nbd', 'id': EXPORT, 'node-name': FORMAT_NODE,
                    'name': EXPORT, 'bitmaps': [bitmap]}, sort_keys=True)]

    qsd = daemon_mod.StorageDaemon(blockdevs, execute=execute,
                                   owner_uid=owner_uid, owner=owner,
                                   workdir_base=workdir_base,
                                   extra_args=exports)
    with qsd:
        sock = os.path.join(qsd.workdir, SOCKET)
        if owner_uid is not None:
            execute('chown', str(owner_uid), sock)
        granularity = _granularity(qsd, bitmap)
        out, _err = processutils.execute(
            'nbdinfo', '--json', '--map=qemu:dirty-bitmap:%s' % bitmap,
            'nbd+unix:///%s?socket=%s' % (EXPORT, sock))
        return parse_map(json.loads(out)), granularity
