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
"""What ``gc`` may remove, and what it refuses to."""

from incsnap_driver import layout
from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import orphans
from incsnap_driver.manage.checks import share


def gc_plan(listing, scans, min_age=0):
    """(removable orphans, refusals as Problems) for a share.

    Refused: anything that is a symlink or not a regular file, anything
    younger than ``min_age`` seconds, every file of a volume whose chain
    document is unreadable, and a snapshot folder whose volume is gone
    while its document still lists live snapshots.
    """
    removable, refused = [], []

    def consider(orphan):
        entry = orphan.entry
        if entry.type == model.SYMLINK:
            refused.append(model.Problem(
                model.ERROR, 'symlink', model.symlink_text(entry),
                volume=orphan.volume, file=orphan.path))
        elif entry.type != model.FILE and not orphan.is_folder:
            refused.append(model.Problem(
                model.ERROR, 'unexpected_type', 'not a regular file; not '
                'removed', volume=orphan.volume, file=orphan.path))
        elif entry.age < min_age:
            refused.append(model.Problem(
                model.WARNING, 'orphan_recent', 'modified %ds ago (< '
                '--min-age %ds): an operation may still be running; not '
                'removed' % (entry.age, min_age), volume=orphan.volume,
                file=orphan.path))
        else:
            removable.append(orphan)

    for entry in listing.parts:
        consider(model.Orphan(entry.name, share.PART_REASON,
                              volume=layout.volume_part_id_of(entry.name),
                              entry=entry))
    for scan in scans:
        if scan.folder is None:
            continue
        if scan.folder.type != model.DIR:
            if scan.folder.type == model.SYMLINK:
                refused.append(model.Problem(
                    model.ERROR, 'symlink', model.symlink_text(scan.folder),
                    volume=scan.volume_id, file=scan.folder_name))
            continue
        if scan.chain_error is not None:
            refused.append(model.Problem(
                model.ERROR, 'chain_unreadable', '%s; volume left untouched'
                % scan.chain_error, volume=scan.volume_id,
                file=scan.in_folder(layout.CHAIN_DOCUMENT)))
            continue
        if scan.volume is None:
            _gone_volume(scan, consider, refused)
            continue
        for orphan in orphans.find_orphans(scan):
            consider(orphan)
        for name, entry in sorted(scan.entries.items()):
            # Symlinks with an orphan's name were refused above.
            if (entry.type == model.SYMLINK and
                    orphans.orphan_reason(name) is None):
                refused.append(model.Problem(
                    model.ERROR, 'symlink', model.symlink_text(entry),
                    volume=scan.volume_id, file=scan.in_folder(name)))
    return removable, refused


def _gone_volume(scan, consider, refused):
    """The snapshot folder of a volume whose file is gone."""
    live = scan.chain.live() if scan.chain else []
    if live:
        refused.append(model.Problem(
            model.ERROR, 'volume_missing', 'volume file is gone but the '
            'chain document lists live snapshot(s) %s; not removed (remove '
            'by hand once Cinder no longer knows them)'
            % ', '.join(r.id for r in live),
            volume=scan.volume_id, file=scan.folder_name))
        return
    strange = [n for n, e in scan.entries.items()
               if e.type != model.FILE or not (
                   n == layout.CHAIN_DOCUMENT or orphans.orphan_reason(n))]
    if strange:
        refused.append(model.Problem(
            model.ERROR, 'volume_missing', 'volume file is gone; folder not '
            'removed: it holds names the driver does not write: %s'
            % ', '.join(sorted(strange)),
            volume=scan.volume_id, file=scan.folder_name))
        return
    consider(model.Orphan(scan.folder_name, 'snapshot folder of a volume '
                          'that is gone', volume=scan.volume_id,
                          entry=scan.folder, is_folder=True))
