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
"""The volume file and the snapshot files against the chain document.

What ``qemu-img info -U`` and ``qemu-img check -U`` said (``ImageFacts``):
the format, the backing file names, the errors and leaks.
"""

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.manage.checks import document
from incsnap_driver.manage.checks import model
from incsnap_driver.qemu import img


def check_volume_file(scan, offline=False):
    vid = scan.volume_id
    entry = scan.volume
    if entry is None:
        return []
    name = scan.volume_file
    if entry.type == model.SYMLINK:
        return [model.Problem(model.ERROR, 'symlink',
                              model.symlink_text(entry), volume=vid,
                              file=name)]
    if entry.type != model.FILE:
        return [model.Problem(model.ERROR, 'unexpected_type', 'volume is '
                              'not a regular file', volume=vid, file=name)]
    facts = scan.volume_image
    if facts is None:
        return []
    if facts.error:
        return [model.Problem(model.ERROR, 'unreadable_image', 'qemu-img '
                              'cannot read the volume: %s' % facts.error,
                              volume=vid, file=name)]
    problems = []
    has_head = bool(scan.chain and scan.chain.head)
    if facts.format != 'qcow2' or facts.compat != img.QCOW2_V3:
        problems.append(model.Problem(
            model.ERROR if has_head else model.WARNING,
            'volume_not_qcow2_v3',
            'volume is %s%s, not qcow2 v3: it cannot hold bitmaps, every '
            'snapshot will be full' % (
                facts.format, ' compat=%s' % facts.compat
                if facts.format == 'qcow2' else ''),
            volume=vid, file=name))
    if facts.backing:
        problems.append(model.Problem(
            model.ERROR, 'volume_has_backing', 'volume has backing file %r: '
            'a volume must never be an overlay' % facts.backing, volume=vid,
            file=name))
    problems += _check_result(facts, vid, None, name)
    return problems


def _check_result(facts, vid, sid, path):
    problems = []
    if facts.check_errors:
        problems.append(model.Problem(
            model.ERROR, 'qemu_img_check', 'qemu-img check found %d '
            'error(s)' % facts.check_errors, volume=vid, snapshot=sid,
            file=path))
    if facts.check_leaks:
        problems.append(model.Problem(
            model.WARNING, 'qemu_img_leaks', 'qemu-img check found %d '
            'leaked cluster(s) (space only; qemu-img check -r leaks frees '
            'them)' % facts.check_leaks, volume=vid, snapshot=sid,
            file=path))
    return problems


def check_snapshot_files(scan):
    """Each record's file: present, the right backing, readable, sound."""
    problems = []
    vid = scan.volume_id
    for record in scan.chain.snapshots:
        if not document.has_safe_file(record):
            continue  # reported by document.check_records; never touched
        path = scan.in_folder(record.file)
        entry = scan.entries.get(record.file)

        def add(severity, code, message):
            problems.append(model.Problem(severity, code, message,
                                          volume=vid, snapshot=record.id,
                                          file=path))

        if entry is None:
            add(model.ERROR, 'file_missing', '%s snapshot file is missing%s'
                % (record.kind, ' (hidden snapshot, kept for its '
                                'dependents)' if record.hidden else ''))
            continue
        if entry.type == model.SYMLINK:
            add(model.ERROR, 'symlink', model.symlink_text(entry))
            continue
        if entry.type != model.FILE:
            add(model.ERROR, 'unexpected_type', 'snapshot file is not a '
                'regular file')
            continue
        facts = scan.images.get(record.file)
        if facts is None:
            continue
        if facts.error:
            add(model.ERROR, 'unreadable_image', 'qemu-img cannot read it: '
                '%s' % facts.error)
            continue
        if facts.format != 'qcow2':
            add(model.ERROR, 'not_qcow2', 'snapshot file is %s, not qcow2'
                % facts.format)
        backing = facts.backing
        if backing is not None:
            unsafe = layout.backing_name_problem(backing)
            if unsafe:
                add(model.ERROR, 'backing_unsafe', 'backing file name %r %s: '
                    'backing names must be bare file names in the snapshot '
                    'folder' % (backing, unsafe))
        if record.kind == chain_mod.FULL and backing is not None:
            add(model.ERROR, 'full_with_backing', 'full snapshot has '
                'backing file %r' % backing)
        elif record.kind == chain_mod.INCREMENTAL:
            parent = scan.chain.get(record.parent)
            if parent is not None and backing != parent.file:
                add(model.ERROR, 'backing_wrong', 'backing file is %r, '
                    'expected parent %s\'s file %s' % (backing, parent.id,
                                                       parent.file))
        problems += _check_result(facts, vid, record.id, path)
    return problems
