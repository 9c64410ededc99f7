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
"""Every problem of one volume, in a stable order (``verify``)."""

from incsnap_driver import layout
from incsnap_driver.manage.checks import bitmaps
from incsnap_driver.manage.checks import document
from incsnap_driver.manage.checks import images
from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import orphans


def check_volume(scan, offline=False, min_age=0):
    """Every problem of one volume, in a stable order."""
    problems = []
    vid = scan.volume_id
    if scan.folder is not None and scan.folder.type != model.DIR:
        if scan.folder.type == model.SYMLINK:
            problems.append(model.Problem(
                model.ERROR, 'symlink', model.symlink_text(scan.folder),
                volume=vid, file=scan.folder_name))
        else:
            problems.append(model.Problem(
                model.ERROR, 'unexpected_type', 'snapshot folder is not a '
                'directory', volume=vid, file=scan.folder_name))
        return problems + images.check_volume_file(scan, offline)
    if scan.chain_error is not None:
        problems.append(model.Problem(
            model.ERROR, 'chain_unreadable', scan.chain_error, volume=vid,
            file=scan.in_folder(layout.CHAIN_DOCUMENT)))
        # Nothing else can be judged without the document: the files'
        # roles are unknown.
        return problems + images.check_volume_file(scan, offline)
    if scan.volume is None:
        if scan.folder is not None:
            problems.append(model.Problem(
                model.ERROR, 'volume_missing', 'snapshot folder of a volume '
                'whose file is gone' + _live_text(scan.chain), volume=vid,
                file=scan.folder_name))
        return problems
    problems += images.check_volume_file(scan, offline)
    if scan.chain is None:
        return problems
    problems += document.check_records(scan.chain, vid, scan.folder_name)
    problems += images.check_snapshot_files(scan)
    problems += bitmaps.check_bitmaps(scan, offline)
    problems += check_journal(scan)
    for orphan in orphans.find_orphans(scan):
        problems.append(orphans.orphan_problem(
            vid, orphan.path, orphan.entry, orphan.reason, min_age))
    problems += orphans.unexpected_entries(scan)
    return problems


def _live_text(chain):
    live = [r.id for r in chain.live()] if chain else []
    if not live:
        return ''
    return '; its chain document still lists live snapshot(s) %s' % (
        ', '.join(live))


def check_journal(scan):
    journal = scan.chain.journal
    if not journal:
        return []
    text = ('interrupted %s to snapshot %s left its journal (undo file '
            '%s): the driver restores the volume at its next operation on '
            'it' % (journal.get('op'), journal.get('snapshot'),
                    journal.get('undo')))
    return [model.Problem(
        model.ERROR, 'journal', text,
        volume=scan.volume_id, snapshot=journal.get('snapshot'),
        file=scan.in_folder(layout.CHAIN_DOCUMENT))]
