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
"""Finishing what an interrupted operation left on one volume.

Runs first in every operation that opens the volume's chain
(:meth:`incsnap_driver.ops.volume.VolumeContext.open`), under the volume's
lock, after a revert's copy-back failed, and for every volume with
interrupted work when the service starts (:mod:`incsnap_driver.ops.startup`
opens those volumes the same way). It works from the files on the share
alone: QEMU tools of this service still running on the volume (their
service was killed; :mod:`incsnap_driver.qemu.orphans`), a revert's
journal (the volume is restored from its undo file), and files that are
never complete data (partial copies, undo files no journal needs,
temporary documents).
"""

import dataclasses
import os

from oslo_log import log as logging

from incsnap_driver import layout
from incsnap_driver.qemu import offline
from incsnap_driver.qemu import orphans

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Recovered:
    """What :func:`recover` found and did on one volume.

    ``stopped``/``left``: QEMU tools stopped, and tools of others left
    running (with why); ``journal``: the interrupted revert's journal
    that was cleared, and ``restored`` whether the volume was copied back
    from its undo file; ``removed``: leftover file names.
    """

    stopped: list = dataclasses.field(default_factory=list)
    left: list = dataclasses.field(default_factory=list)
    journal: dict = None
    restored: bool = False
    removed: list = dataclasses.field(default_factory=list)

    def __bool__(self):
        return bool(self.stopped or self.journal or self.removed)

    def describe(self):
        """One line's worth: what was done, in the order it was done."""
        parts = []
        if self.stopped:
            parts.append('stopped %s' % ', '.join(
                t.describe() for t in self.stopped))
        if self.journal:
            if self.restored:
                parts.append('rolled back the interrupted revert to '
                             'snapshot %s from its undo file'
                             % self.journal.get('snapshot'))
            else:
                parts.append('cleared the journal of a revert to snapshot '
                             '%s that had not written the volume'
                             % self.journal.get('snapshot'))
        if self.removed:
            parts.append('removed %s' % ', '.join(self.removed))
        for tool, why in self.left:
            parts.append('left %s running (%s)' % (tool.describe(), why))
        return '; '.join(parts) or 'nothing to do'


def recover(context):
    """Undo what a killed process left half done on this volume.

    ``context``: the :class:`~incsnap_driver.ops.volume.VolumeContext`,
    whose chain loses its journal once the volume is restored. Returns
    :class:`Recovered`.
    """
    backend, files, chain = context.backend, context.files, context.chain
    reaped = orphans.reap(files.path, backend.owner(),
                          execute=backend.execute)
    done = Recovered(stopped=reaped.stopped, left=reaped.left)
    journal = chain.journal
    if journal and journal.get('op') == 'revert':
        undo = files.in_folder(journal['undo'])
        if os.path.exists(undo):
            LOG.warning('Volume %(vol)s: a revert to snapshot %(snap)s '
                        'was interrupted; restoring the volume from '
                        '%(undo)s.', {'vol': files.volume_id,
                                      'snap': journal['snapshot'],
                                      'undo': undo})
            offline.restore_undo(files.path, undo,
                                 backend.settings.copy_timeout,
                                 execute=backend.execute,
                                 owner_uid=backend.owner_uid,
                                 owner=backend.owner())
            done.restored = True
        chain.journal = None
        context.save()
        done.journal = journal
    done.removed = remove_leftovers(context)
    return done


def share_leftovers(volume_path):
    """The volume's partial files beside it on the share (paths)."""
    return [layout.revert_file(volume_path),
            layout.new_volume_part(volume_path)]


def remove_leftovers(context):
    """Remove files of operations that never completed; their names.

    Only files that are never complete data are removed: partial copies,
    undo files no journal refers to, temporary documents. A complete
    snapshot file the document does not list is left for the operator
    (incsnap-manage gc): removing data is not for guesses.
    """
    backend, files = context.backend, context.files
    journal = context.chain.journal or {}
    removed = []
    for name in files.folder_names():
        if layout.is_leftover(name, keep=journal.get('undo')):
            LOG.warning('Volume %(vol)s: removing leftover %(file)s.',
                        {'vol': files.volume_id, 'file': name})
            backend.remove(files.in_folder(name))
            removed.append(name)
    for path in share_leftovers(files.path):
        if os.path.exists(path):
            LOG.warning('Volume %(vol)s: removing leftover %(file)s.',
                        {'vol': files.volume_id, 'file': path})
            backend.remove(path)
            removed.append(os.path.basename(path))
    return removed
