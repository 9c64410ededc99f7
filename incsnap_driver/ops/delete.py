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
"""Deleting a snapshot, and every file of a volume.

A snapshot nobody depends on loses its file at once; one that later
incrementals depend on stays, hidden, until its last dependent goes
(:func:`incsnap_driver.chain.plan_delete` decides; this module carries
the plan out on the share).
"""

import os

from oslo_concurrency import processutils
from oslo_log import log as logging

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.qemu import img
from incsnap_driver import store

LOG = logging.getLogger(__name__)


def delete_snapshot(context, snapshot_id, attached):
    """Delete a snapshot from the volume's chain and its file (or hide it).

    ``context``: the volume's VolumeContext, opened with
    ``deleting=snapshot_id``. ``attached``: the volume is attached, so its
    bitmaps are the running VM's to drop.
    """
    backend, files, chain = context.backend, context.files, context.chain
    volume_id = files.volume_id
    plan = chain_mod.plan_delete(chain, snapshot_id)
    if chain.get(snapshot_id) is None:
        # Unknown to the chain: its creation failed.  A file named after
        # it is its own (complete when the process died before the
        # document recorded it); no record can depend on it.
        for name in (layout.snapshot_file(snapshot_id),
                     layout.part_file(snapshot_id)):
            path = files.in_folder(name)
            if os.path.lexists(path):
                LOG.warning('Snapshot %(snap)s of volume %(vol)s was '
                            'never recorded (its creation was '
                            'interrupted); removing %(file)s.',
                            {'snap': snapshot_id, 'vol': volume_id,
                             'file': name})
                backend.remove(path)
    if plan.hide:
        LOG.info('Snapshot %(snap)s of volume %(vol)s is deleted but its '
                 'file stays hidden: %(n)d snapshot(s) depend on it.',
                 {'snap': snapshot_id, 'vol': volume_id,
                  'n': len(chain.children(snapshot_id))})
    for removed_id in plan.remove:
        record = chain.get(removed_id)
        LOG.info('Removing the file of snapshot %(snap)s of volume '
                 '%(vol)s.', {'snap': removed_id, 'vol': volume_id})
        backend.remove(files.in_folder(record.file))
    chain_mod.apply_delete(chain, plan)
    others = [n for n in files.folder_names() if n != store.DOCUMENT]
    if chain.snapshots or chain.journal or others:
        # A document stays while any file does: a folder with snapshot
        # files and no document is damage, not an empty chain.
        context.save()
    else:
        context.store.remove()
        try:
            os.rmdir(files.snap_dir)
        except OSError:
            pass
    if plan.clears_head and not attached:
        drop_stale_bitmaps(backend, files)


def drop_stale_bitmaps(backend, files):
    """Remove bitmaps of ours no snapshot can use any more (detached)."""
    try:
        info = img.info(files.path, execute=backend.execute)
        for bitmap in img.bitmaps(info):
            if chain_mod.is_ours(bitmap['name']):
                img.bitmap_remove(files.path, bitmap['name'],
                                  execute=backend.execute)
    except processutils.ProcessExecutionError as exc:
        # Harmless: the next snapshot drops them.
        LOG.info('Volume %(vol)s: stale bitmaps left for the next '
                 'snapshot to remove (%(err)s).',
                 {'vol': files.volume_id, 'err': exc})


def delete_volume(backend, files, also=()):
    """Delete the volume and every file of it, hidden snapshots too.

    ``files``: the checked :class:`~incsnap_driver.ops.volume.VolumeFiles`;
    ``also``: more paths of the volume to remove (Cinder's ``.info``).
    """
    if os.path.isdir(files.snap_dir):
        for name in files.folder_names():
            backend.remove(files.in_folder(name))
        try:
            os.rmdir(files.snap_dir)
        except OSError as exc:
            LOG.warning('Could not remove %(dir)s: %(err)s',
                        {'dir': files.snap_dir, 'err': exc})
    for path in (files.path, layout.revert_file(files.path),
                 layout.new_volume_part(files.path)) + tuple(also):
        backend.remove(path)
