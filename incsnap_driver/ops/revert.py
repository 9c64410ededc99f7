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
"""Reverting a volume to a snapshot (the volume detached).

When the volume's bitmap of the snapshot is intact, only the clusters it
marks are copied back (:func:`incsnap_driver.qemu.offline.revert_changed`,
with an undo file journaled in the chain document, so a failure leaves
the volume as it was); otherwise the snapshot's chain is flattened into a
new file that replaces the volume atomically.
:func:`incsnap_driver.chain.plan_revert` decides which.
"""

import os

from cinder.i18n import _
from oslo_log import log as logging

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.ops import copies
from incsnap_driver.ops import errors
from incsnap_driver.ops import recovery
from incsnap_driver.qemu import img
from incsnap_driver.qemu import offline

LOG = logging.getLogger(__name__)


def revert(context, snapshot_id, availability_zone):
    """Make the volume byte-identical to snapshot ``snapshot_id``.

    Either way the volume then carries an empty bitmap named after the
    snapshot, so the next snapshot is incremental again.
    """
    chain, volume_id = context.chain, context.volume_id
    record = context.live_snapshot(snapshot_id)
    snap_path = context.files.in_folder(record.file)
    facts, _info = context.facts()
    plan = chain_mod.plan_revert(chain, snapshot_id,
                                 context.backend.policy(availability_zone),
                                 facts)
    LOG.info('Reverting volume %(vol)s to snapshot %(snap)s: '
             '%(mode)s%(why)s.',
             {'vol': volume_id, 'snap': snapshot_id, 'mode': plan.mode,
              'why': ' (%s)' % plan.reason if plan.reason else ''})
    try:
        if plan.mode == chain_mod.REVERT_CHANGED:
            _copy_back_changed(context, record, snap_path, plan)
        else:
            _replace_by_flattened(context, snap_path, facts, plan)
    except errors.COPY_FAILURES as exc:
        # A copy-back that died half way left its undo file and journal:
        # put the volume back now, not at the next operation.
        recovery.recover(context)
        LOG.error('Revert of volume %(vol)s to snapshot %(snap)s '
                  'failed; the volume is unchanged: %(err)s',
                  {'vol': volume_id, 'snap': snapshot_id, 'err': exc})
        raise errors.BackendFailed(
            _('Revert of volume %(vol)s to snapshot %(snap)s failed: '
              '%(err)s') % {'vol': volume_id, 'snap': snapshot_id,
                            'err': exc})
    chain.journal = None
    # The volume now carries plan.new_bitmap (cleared or fresh), named
    # after the snapshot: the next snapshot is its incremental child.
    record.bitmap = plan.new_bitmap
    chain.head = snapshot_id if plan.new_bitmap else None
    context.save()


def _copy_back_changed(context, record, snap_path, plan):
    """The clusters the bitmap marks, back from the snapshot's chain."""
    backend, files, chain = context.backend, context.files, context.chain
    undo = files.in_folder(layout.undo_file(record.id))

    def journal(undo_path):
        chain.journal = {'op': 'revert', 'snapshot': record.id,
                         'undo': os.path.basename(undo_path)}
        context.save()

    try:
        offline.revert_changed(
            files.path, snap_path, plan.bitmap, undo,
            backend.settings.copy_timeout, before_apply=journal,
            speed=backend.copy_speed, execute=backend.execute,
            owner_uid=backend.owner_uid, owner=backend.owner())
    except Exception:
        if chain.journal and not os.path.exists(undo):
            chain.journal = None
            context.save()
        raise
    for name in plan.drop_bitmaps:
        img.bitmap_remove(files.path, name, execute=backend.execute)


def _replace_by_flattened(context, snap_path, facts, plan):
    """The snapshot's chain flattened into a file that replaces the volume."""
    path = context.files.path
    copies.flatten(context.backend, snap_path, path,
                   layout.revert_file(path), facts.size,
                   new_bitmap=plan.new_bitmap)
