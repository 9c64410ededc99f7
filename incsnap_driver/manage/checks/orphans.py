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
"""Files of ours that nothing references, and names that are not ours."""

from incsnap_driver import layout
from incsnap_driver.manage.checks import document
from incsnap_driver.manage.checks import model


def orphan_reason(name):
    """What a leftover of the driver's named ``name`` is, or None."""
    if layout.part_snapshot_id_of(name):
        return 'partial copy of a snapshot that never completed'
    if layout.undo_snapshot_id_of(name):
        return 'undo file of a revert that completed or was rolled back'
    if layout.is_chain_tmp(name):
        return 'temporary chain document of an interrupted write'
    if layout.snapshot_id_of(name):
        return 'snapshot file not in the chain document'
    return None


def orphan_problem(volume_id, path, entry, why, min_age):
    """How ``verify`` reports a leftover (old, recent or a symlink)."""
    if entry.type == model.SYMLINK:
        return model.Problem(model.ERROR, 'symlink',
                             model.symlink_text(entry), volume=volume_id,
                             file=path)
    if entry.age < min_age:
        return model.Problem(model.WARNING, 'orphan_recent',
                             '%s, modified %ds ago: an operation may still '
                             'be running' % (why, entry.age),
                             volume=volume_id, file=path)
    return model.Problem(model.ERROR, 'orphan', '%s (incsnap-manage gc '
                         '--delete removes it)' % why, volume=volume_id,
                         file=path)


def find_orphans(scan):
    """Files of the snapshot folder the chain document does not reference.

    Only names of the driver's own patterns are orphans; anything else is
    left to :func:`unexpected_entries`. A journaled undo file is not an
    orphan: the driver needs it to finish the interrupted revert.
    """
    if scan.chain is None:
        return []
    known = {r.file for r in scan.chain.snapshots
             if document.has_safe_file(r)}
    journal_undo = (scan.chain.journal or {}).get('undo')
    orphans = []
    for name in sorted(scan.entries):
        entry = scan.entries[name]
        if name == layout.CHAIN_DOCUMENT or name in known:
            continue
        reason = orphan_reason(name)
        if reason is None or name == journal_undo:
            continue
        if entry.type == model.DIR:
            continue
        orphans.append(model.Orphan(scan.in_folder(name), reason,
                                    volume=scan.volume_id, entry=entry))
    return orphans


def unexpected_entries(scan):
    """Names in the snapshot folder that are not the driver's."""
    problems = []
    known = {r.file for r in scan.chain.snapshots} if scan.chain else set()
    for name in sorted(scan.entries):
        entry = scan.entries[name]
        if name == layout.CHAIN_DOCUMENT and entry.type == model.FILE:
            continue
        if name in known:
            continue  # judged by images.check_snapshot_files
        ours = orphan_reason(name) is not None
        if ours and entry.type in (model.FILE, model.SYMLINK):
            continue  # an orphan: reported by find_orphans' caller
        if entry.type == model.SYMLINK:
            problems.append(model.Problem(
                model.ERROR, 'symlink', model.symlink_text(entry),
                volume=scan.volume_id, file=scan.in_folder(name)))
        elif not ours or entry.type != model.FILE:
            problems.append(model.Problem(
                model.WARNING, 'unexpected_name', 'not a name the driver '
                'writes; ignored, never deleted', volume=scan.volume_id,
                file=scan.in_folder(name)))
    return problems
