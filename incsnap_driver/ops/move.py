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
"""A detached volume without snapshots moved to another share (pool).

Cinder's API lets a volume migrate only when it has no snapshots, so what
moves is one file: copied onto the other share with its persistent
bitmaps (``qemu-img convert --bitmaps``), next to its final name and
renamed once complete, compared with the source, and only then the source
removed. A failure before that leaves the volume where it was, whole, and
nothing on the other share.
"""

import os

from cinder.i18n import _
from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_utils import units

from incsnap_driver import layout
from incsnap_driver.ops import copies
from incsnap_driver.ops import delete
from incsnap_driver.ops import errors
from incsnap_driver.qemu import img

LOG = logging.getLogger(__name__)


def move(context, dest_path, size_gb, also=()):
    """Move the volume of ``context`` to ``dest_path`` (another share).

    ``context``: the volume opened under its lock
    (:class:`~incsnap_driver.ops.volume.VolumeContext`); ``also``: more
    of its files to remove once moved (Cinder's ``.info``).
    BackendFailed, with the volume untouched, when it has snapshot files
    on the backend or the destination holds a file of that name already.
    """
    vid = context.volume_id
    source = context.files.path
    if context.chain.snapshots:
        raise errors.BackendFailed(
            _('Volume %(vol)s has %(n)d snapshot(s) on the backend; a '
              'volume is moved to another share only without snapshots.')
            % {'vol': vid, 'n': len(context.chain.snapshots)})
    for path in (dest_path, layout.snapshot_dir(dest_path)):
        if os.path.lexists(path):
            raise errors.BackendFailed(
                _('Volume %(vol)s: %(path)s exists already on the '
                  'destination share; not moving onto it.')
                % {'vol': vid, 'path': path})
    backend = context.backend
    before = img.bitmaps(img.info(source, execute=backend.execute))
    try:
        copies.flatten(backend, source, dest_path,
                       layout.new_volume_part(dest_path), size_gb * units.Gi,
                       keep_bitmaps=True)
    except processutils.ProcessExecutionError as exc:
        raise errors.BackendFailed(
            _('Moving volume %(vol)s to %(dest)s failed: %(err)s')
            % {'vol': vid, 'dest': dest_path, 'err': exc.stderr or exc})
    try:
        same = img.compare(source, dest_path, execute=backend.execute)
        problem = _('does not read the same as the volume')
    except processutils.ProcessExecutionError as exc:
        same, problem = False, exc.stderr or exc
    if not same:
        backend.remove(dest_path)
        raise errors.BackendFailed(
            _('Moving volume %(vol)s: the copy at %(dest)s %(problem)s; '
              'removed it, the volume stays where it was.')
            % {'vol': vid, 'dest': dest_path, 'problem': problem})
    after = img.bitmaps(img.info(dest_path, execute=backend.execute))
    LOG.info('Volume %(vol)s copied to %(dest)s with its bitmaps '
             '%(kept)s%(lost)s.',
             {'vol': vid, 'dest': dest_path,
              'kept': sorted(b['name'] for b in after) or 'none',
              'lost': _lost(before, after)})
    delete.delete_volume(backend, context.files, also=also)


def _lost(before, after):
    kept = {b['name'] for b in after}
    lost = sorted(b['name'] for b in before if b['name'] not in kept)
    return (' (left behind, inconsistent: %s)' % ', '.join(lost)) if lost \
        else ''
