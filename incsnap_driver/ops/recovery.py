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
lock, and after a revert's copy-back failed. It works from the files on
the share alone: storage daemons of ours still running on the volume
(their service was killed), a revert's journal (the volume is restored
from its undo file), and files that are never complete data (partial
copies, undo files no journal needs, temporary documents).
"""

import os

from oslo_log import log as logging

from incsnap_driver import layout
from incsnap_driver.qemu import daemon
from incsnap_driver.qemu import offline

LOG = logging.getLogger(__name__)


def recover(context):
    """Undo what a killed process left half done on this volume.

    ``context``: the :class:`~incsnap_driver.ops.volume.VolumeContext`,
    whose chain loses its journal once the volume is restored.
    """
    backend, files, chain = context.backend, context.files, context.chain
    daemon.reap_orphans(files.path, execute=backend.execute)
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
                                 owner_uid=backend.owner_uid)
        chain.journal = None
        context.save()
    remove_leftovers(context)


def remove_leftovers(context):
    """Remove files of operations that never completed.

    Only files that are never complete data are removed: partial copies,
    undo files no journal refers to, temporary documents. A complete
    snapshot file the document does not list is left for the operator
    (incsnap-manage gc): removing data is not for guesses.
    """
    backend, files = context.backend, context.files
    journal = context.chain.journal or {}
    for name in files.folder_names():
        if name == journal.get('undo'):
            continue
        if (name.endswith(layout.PART_SUFFIX) or
                name.endswith(layout.UNDO_SUFFIX) or
                name.startswith(layout.CHAIN_TMP_PREFIX)):
            LOG.warning('Volume %(vol)s: removing leftover %(file)s.',
                        {'vol': files.volume_id, 'file': name})
            backend.remove(files.in_folder(name))
    revert_part = layout.revert_file(files.path)
    if os.path.exists(revert_part):
        backend.remove(revert_part)
