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
"""Volume files made, copied and grown with qemu-img.

A new volume (from a snapshot, a clone) is the source's chain flattened
into an independent, sparse qcow2 v3 file, written next to its final name
and renamed once complete. A volume file is always qcow2 v3 (it can hold
persistent bitmaps); growing it keeps its bitmaps valid.
"""

import os

from cinder.i18n import _
from oslo_concurrency import processutils
from oslo_utils import units

from incsnap_driver import layout
from incsnap_driver.ops import errors
from incsnap_driver.qemu import img


def flatten(backend, src_path, dest, tmp, min_size, new_bitmap=None,
            keep_bitmaps=False):
    """Write ``src_path``'s chain into a new independent file ``dest``.

    The copy goes to ``tmp`` first and replaces ``dest`` by a rename only
    once complete, so ``dest`` is never half written. It is at least
    ``min_size`` bytes large and carries ``new_bitmap`` when given, and
    ``src_path``'s own persistent bitmaps with ``keep_bitmaps``.
    """
    run = backend.execute
    try:
        img.convert(src_path, tmp, execute=run,
                    rate_limit=backend.copy_speed, owner=backend.owner(),
                    bitmaps=keep_bitmaps)
        info = img.info(tmp, execute=run)
        if info['virtual-size'] < min_size:
            img.resize(tmp, min_size, execute=run)
        if new_bitmap:
            img.bitmap_add(tmp, new_bitmap, execute=run)
        backend.set_permissions(tmp)
        os.rename(tmp, dest)
    except BaseException:
        backend.remove(tmp)
        raise


def new_volume(backend, src_path, dest, size_gb, what):
    """A new independent qcow2 volume file ``dest`` from ``src_path``.

    ``what`` names the copy in the error message (``Clone <id> of volume
    <id>``).
    """
    try:
        flatten(backend, src_path, dest, layout.new_volume_part(dest),
                size_gb * units.Gi)
    except processutils.ProcessExecutionError as exc:
        raise errors.BackendFailed(_('%(what)s failed: %(err)s')
                                   % {'what': what,
                                      'err': exc.stderr or exc})


def from_snapshot(backend, snapshot_path, dest, size_gb, volume_id,
                  snapshot_id):
    """A new volume ``volume_id`` with the content of a snapshot file."""
    new_volume(backend, snapshot_path, dest, size_gb,
               _('Volume %(vol)s from snapshot %(snap)s')
               % {'vol': volume_id, 'snap': snapshot_id})


def clone(backend, source_path, dest, size_gb, volume_id, source_id):
    """A new volume ``volume_id`` with the content of volume ``source_id``."""
    new_volume(backend, source_path, dest, size_gb,
               _('Clone %(vol)s of volume %(src)s')
               % {'vol': volume_id, 'src': source_id})


def extend(backend, volume_id, path, new_size_gb):
    """Grow the volume file; its bitmaps grow with it and stay valid."""
    info = img.info(path, execute=backend.execute)
    if info['virtual-size'] >= new_size_gb * units.Gi:
        return
    try:
        img.resize(path, new_size_gb * units.Gi, execute=backend.execute,
                   fmt=info.get('format', 'qcow2'))
    except processutils.ProcessExecutionError as exc:
        raise errors.ExtendFailed(_('volume %(vol)s: %(err)s')
                                  % {'vol': volume_id,
                                     'err': exc.stderr or exc})


def create_volume(backend, volume_id, path, size_gb, encrypted=False):
    """Create the volume as a qcow2 v3 file (it can hold bitmaps)."""
    if encrypted:
        raise errors.DriverFailed(
            _('Volume %s: encrypted volumes are not supported by the '
              'incsnap driver.') % volume_id)
    img.create(path, size_gb * units.Gi, execute=backend.execute,
               preallocation=None if backend.sparse else 'falloc')
    backend.set_permissions(path)


def create_qcow2(backend, path, size_gb):
    """A plain qcow2 v3 file (Cinder's RemoteFS hook)."""
    img.create(path, size_gb * units.Gi, execute=backend.execute)


def fix_up_image(backend, path, size_gb):
    """After an image was written into the volume: qcow2 v3, full size."""
    info = img.info(path, execute=backend.execute)
    if img.qcow2_compat(info) != img.QCOW2_V3:
        backend.execute('qemu-img', 'amend', '-f', 'qcow2', '-o',
                        'compat=%s' % img.QCOW2_V3, path)
    if info['virtual-size'] < size_gb * units.Gi:
        img.resize(path, size_gb * units.Gi, execute=backend.execute)
    backend.set_permissions(path)
