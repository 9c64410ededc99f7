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
"""What ``incsnap-manage`` concludes from what it read: plain functions.

The scanner (:mod:`incsnap_driver.manage_scan`) reads a share: directory
listings (``Entry``), the chain documents, and what ``qemu-img info`` and
``qemu-img check`` say about each image (``ImageFacts``). Everything here
works on those plain values only, so every rule can be tested with
hand-built data.

Severities: ``error`` makes ``verify`` exit 1; ``warning`` is printed but
does not (a bitmap ``in-use`` while a VM may run the volume, a leftover
younger than the minimum age that may belong to a running operation);
``info`` is a remark (a name that is not ours, ignored).
"""

import dataclasses
import re
import typing

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver import store

ERROR = 'error'
WARNING = 'warning'
INFO = 'info'

_UUID = (r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
         r'[0-9a-f]{12}')
VOLUME_FILE = re.compile(r'^volume-(%s)$' % _UUID)
VOLUME_FOLDER = re.compile(r'^volume-(%s)\.incsnap$' % _UUID)
VOLUME_PART = re.compile(r'^volume-(%s)(\.revert)?\.part$' % _UUID)
# Cinder's remotefs keeps a JSON ".info" file next to some volumes.
VOLUME_INFO = re.compile(r'^volume-(%s)\.info$' % _UUID)
SNAPSHOT_PART = re.compile(r'^snapshot-(%s)\.qcow2\.part$' % _UUID)
UNDO_FILE = re.compile(r'^revert-(%s)\.undo\.qcow2$' % _UUID)
QCOW2_V3 = '1.1'  # qemu-img's compat of qcow2 v3
CHAIN_TMP = re.compile(r'^\.chain\.[A-Za-z0-9_]+\.tmp$')

# Entry types.
FILE = 'file'
DIR = 'dir'
SYMLINK = 'symlink'
OTHER = 'other'


@dataclasses.dataclass
class Entry:
    """One name in a directory, as lstat saw it (symlinks not followed)."""

    name: str
    type: str = FILE
    allocated: int = 0          # st_blocks * 512
    age: float = 1e9            # seconds since last modification
    link_target: typing.Optional[str] = None
    link_inside: bool = False   # the link resolves inside the share


@dataclasses.dataclass
class ImageFacts:
    """What qemu-img says about one image (``info -U``, ``check -U``)."""

    format: typing.Optional[str] = 'qcow2'
    compat: typing.Optional[str] = '1.1'
    backing: typing.Optional[str] = None   # backing-filename as stored
    bitmaps: list = dataclasses.field(default_factory=list)
    check_errors: int = 0                  # corruptions + check errors
    check_leaks: int = 0
    checked: bool = True                   # qemu-img check was run
    error: typing.Optional[str] = None     # qemu-img could not read it


@dataclasses.dataclass
class VolumeScan:
    """Everything read about one volume (file and/or snapshot folder)."""

    volume_id: str
    volume: typing.Optional[Entry] = None      # None: no volume file
    volume_image: typing.Optional[ImageFacts] = None
    open_by: list = dataclasses.field(default_factory=list)
    folder: typing.Optional[Entry] = None      # None: no snapshot folder
    chain: typing.Optional[chain_mod.Chain] = None
    chain_error: typing.Optional[str] = None
    entries: dict = dataclasses.field(default_factory=dict)  # name: Entry
    images: dict = dataclasses.field(default_factory=dict)   # name: facts

    @property
    def volume_file(self):
        return 'volume-%s' % self.volume_id

    @property
    def folder_name(self):
        return self.volume_file + layout.SNAPSHOT_DIR_SUFFIX

    def in_folder(self, name):
        return '%s/%s' % (self.folder_name, name)


@dataclasses.dataclass
class Problem:
    severity: str
    code: str
    message: str
    volume: typing.Optional[str] = None
    snapshot: typing.Optional[str] = None
    file: typing.Optional[str] = None      # relative to the share

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ShareListing:
    """The share's top level, sorted by what each name is."""

    volumes: dict = dataclasses.field(default_factory=dict)   # id: Entry
    folders: dict = dataclasses.field(default_factory=dict)   # id: Entry
    parts: list = dataclasses.field(default_factory=list)     # Entry
    ignored: list = dataclasses.field(default_factory=list)   # Entry


@dataclasses.dataclass
class Orphan:
    path: str           # relative to the share
    reason: str
    volume: typing.Optional[str] = None
    entry: typing.Optional[Entry] = None
    is_folder: bool = False


# -- the share's top level -------------------------------------------------

def classify_share(entries):
    """Sort the share's top-level entries by name pattern.

    Only names starting with ``volume-`` concern us; of those, names that
    match none of the driver's patterns are *ignored* (and reported).
    """
    listing = ShareListing()
    for entry in entries:
        name = entry.name
        match = VOLUME_FILE.match(name)
        if match:
            listing.volumes[match.group(1)] = entry
            continue
        match = VOLUME_FOLDER.match(name)
        if match:
            listing.folders[match.group(1)] = entry
            continue
        if VOLUME_PART.match(name):
            listing.parts.append(entry)
            continue
        if VOLUME_INFO.match(name):
            continue
        if name.startswith('volume-'):
            listing.ignored.append(entry)
    return listing


def share_problems(listing, min_age=0):
    """Problems of the top level: leftovers, ignored names."""
    problems = []
    for entry in listing.parts:
        problems.append(_orphan_problem(
            VOLUME_PART.match(entry.name).group(1), entry.name, entry,
            'leftover of an interrupted revert or volume copy', min_age))
    for entry in listing.ignored:
        problems.append(Problem(
            INFO, 'ignored_name', 'name does not match the driver\'s '
            'patterns; ignored', file=entry.name))
    return problems


def _orphan_problem(volume_id, path, entry, why, min_age):
    if entry.type == SYMLINK:
        return Problem(ERROR, 'symlink', _symlink_text(entry),
                       volume=volume_id, file=path)
    if entry.age < min_age:
        return Problem(WARNING, 'orphan_recent',
                       '%s, modified %ds ago: an operation may still be '
                       'running' % (why, entry.age), volume=volume_id,
                       file=path)
    return Problem(ERROR, 'orphan', '%s (incsnap-manage gc --delete '
                   'removes it)' % why, volume=volume_id, file=path)


def _symlink_text(entry):
    where = 'inside' if entry.link_inside else 'OUTSIDE'
    return ('symlink to %r (%s the share): never followed, never deleted '
            'through; remove it by hand' % (entry.link_target, where))


# -- one volume ------------------------------------------------------------

def check_volume(scan, offline=False, min_age=0):
    """Every problem of one volume, in a stable order."""
    problems = []
    vid = scan.volume_id
    if scan.folder is not None and scan.folder.type != DIR:
        if scan.folder.type == SYMLINK:
            problems.append(Problem(ERROR, 'symlink',
                                    _symlink_text(scan.folder), volume=vid,
                                    file=scan.folder_name))
        else:
            problems.append(Problem(ERROR, 'unexpected_type',
                                    'snapshot folder is not a directory',
                                    volume=vid, file=scan.folder_name))
        return problems + check_volume_file(scan, offline)
    if scan.chain_error is not None:
        problems.append(Problem(
            ERROR, 'chain_unreadable', scan.chain_error, volume=vid,
            file=scan.in_folder(store.DOCUMENT)))
        # Nothing else can be judged without the document: the files'
        # roles are unknown.
        return problems + check_volume_file(scan, offline)
    if scan.volume is None:
        if scan.folder is not None:
            problems.append(Problem(
                ERROR, 'volume_missing', 'snapshot folder of a volume whose '
                'file is gone' + _live_text(scan.chain), volume=vid,
                file=scan.folder_name))
        return problems
    problems += check_volume_file(scan, offline)
    if scan.chain is None:
        return problems
    problems += check_records(scan.chain, vid, scan.folder_name)
    problems += check_snapshot_files(scan)
    problems += check_bitmaps(scan, offline)
    problems += check_journal(scan)
    for orphan in find_orphans(scan):
        problems.append(_orphan_problem(vid, orphan.path, orphan.entry,
                                        orphan.reason, min_age))
    problems += unexpected_entries(scan)
    return problems


def _live_text(chain):
    live = [r.id for r in chain.live()] if chain else []
    if not live:
        return ''
    return '; its chain document still lists live snapshot(s) %s' % (
        ', '.join(live))


def check_volume_file(scan, offline=False):
    vid = scan.volume_id
    entry = scan.volume
    if entry is None:
        return []
    name = scan.volume_file
    if entry.type == SYMLINK:
        return [Problem(ERROR, 'symlink', _symlink_text(entry), volume=vid,
                        file=name)]
    if entry.type != FILE:
        return [Problem(ERROR, 'unexpected_type', 'volume is not a regular '
                        'file', volume=vid, file=name)]
    facts = scan.volume_image
    if facts is None:
        return []
    if facts.error:
        return [Problem(ERROR, 'unreadable_image', 'qemu-img cannot read '
                        'the volume: %s' % facts.error, volume=vid,
                        file=name)]
    problems = []
    has_head = bool(scan.chain and scan.chain.head)
    if facts.format != 'qcow2' or facts.compat != QCOW2_V3:
        problems.append(Problem(
            ERROR if has_head else WARNING, 'volume_not_qcow2_v3',
            'volume is %s%s, not qcow2 v3: it cannot hold bitmaps, every '
            'snapshot will be full' % (
                facts.format, ' compat=%s' % facts.compat
                if facts.format == 'qcow2' else ''),
            volume=vid, file=name))
    if facts.backing:
        problems.append(Problem(
            ERROR, 'volume_has_backing', 'volume has backing file %r: a '
            'volume must never be an overlay' % facts.backing, volume=vid,
            file=name))
    problems += _check_result(facts, vid, None, name)
    return problems


def _check_result(facts, vid, sid, path):
    problems = []
    if facts.check_errors:
        problems.append(Problem(
            ERROR, 'qemu_img_check', 'qemu-img check found %d error(s)'
            % facts.check_errors, volume=vid, snapshot=sid, file=path))
    if facts.check_leaks:
        problems.append(Problem(
            WARNING, 'qemu_img_leaks', 'qemu-img check found %d leaked '
            'cluster(s) (space only; qemu-img check -r leaks frees them)'
            % facts.check_leaks, volume=vid, snapshot=sid, file=path))
    return problems


def check_records(chain, vid, folder_name='.'):
    """The chain document against itself (no files involved)."""
    problems = []
    ids = set()

    def add(severity, code, message, record=None):
        problems.append(Problem(
            severity, code, message, volume=vid,
            snapshot=record.id if record else None,
            file='%s/%s' % (folder_name, record.file if record and
                            _safe_record_file(record) else store.DOCUMENT)))

    for record in chain.snapshots:
        if not _is_uuid(record.id):
            add(ERROR, 'bad_id', 'snapshot id %r in the chain document is '
                'not a UUID' % (record.id,))
            continue
        if record.id in ids:
            add(ERROR, 'duplicate_record', 'snapshot listed twice', record)
        ids.add(record.id)
        if not _safe_record_file(record):
            add(ERROR, 'bad_file_name', 'record names file %r, expected %s'
                % (record.file, layout.snapshot_file(record.id)), record)
        if record.parent is not None and not _is_uuid(record.parent):
            add(ERROR, 'bad_id', 'parent id %r is not a UUID'
                % (record.parent,), record)
            continue
        if record.kind == chain_mod.FULL:
            if record.parent is not None:
                add(ERROR, 'full_with_parent', 'full snapshot has parent %s'
                    % record.parent, record)
            if record.depth != 1:
                add(ERROR, 'depth_wrong', 'full snapshot has depth %r, '
                    'expected 1' % (record.depth,), record)
        elif record.kind == chain_mod.INCREMENTAL:
            parent = chain.get(record.parent) if record.parent else None
            if parent is None:
                add(ERROR, 'parent_unknown', 'parent %s is not in the chain'
                    % record.parent, record)
            elif record.depth != parent.depth + 1:
                add(ERROR, 'depth_wrong', 'depth %r, expected parent %s\'s '
                    'depth %r + 1' % (record.depth, parent.id, parent.depth),
                    record)
        else:
            add(ERROR, 'bad_kind', 'kind %r is neither full nor incremental'
                % (record.kind,), record)
        if record.hidden and not chain.children(record.id):
            add(ERROR, 'hidden_without_children', 'hidden snapshot has no '
                'dependent: its file should have been removed', record)
    if chain.head is not None:
        head = chain.get(chain.head)
        if head is None:
            add(ERROR, 'head_not_live', 'head %s is not in the chain'
                % (chain.head,))
        elif head.hidden:
            add(ERROR, 'head_not_live', 'head is a hidden (deleted) '
                'snapshot', head)
    return problems


def _is_uuid(value):
    try:
        layout.check_uuid('snapshot', value)
    except layout.UnsafeName:
        return False
    return True


def _safe_record_file(record):
    return _is_uuid(record.id) and record.file == layout.snapshot_file(
        record.id)


def backing_problem(name):
    """Why a stored backing file name is unsafe, or None."""
    if name.startswith('/'):
        return 'is absolute'
    if '/' in name:
        return 'contains "/"'
    if '..' in name:
        return 'contains ".."'
    return None


def check_snapshot_files(scan):
    """Each record's file: present, the right backing, readable, sound."""
    problems = []
    vid = scan.volume_id
    for record in scan.chain.snapshots:
        if not _safe_record_file(record):
            continue  # reported by check_records; never touched
        path = scan.in_folder(record.file)
        entry = scan.entries.get(record.file)

        def add(severity, code, message):
            problems.append(Problem(severity, code, message, volume=vid,
                                    snapshot=record.id, file=path))

        if entry is None:
            add(ERROR, 'file_missing', '%s snapshot file is missing%s'
                % (record.kind, ' (hidden snapshot, kept for its '
                                'dependents)' if record.hidden else ''))
            continue
        if entry.type == SYMLINK:
            add(ERROR, 'symlink', _symlink_text(entry))
            continue
        if entry.type != FILE:
            add(ERROR, 'unexpected_type', 'snapshot file is not a regular '
                'file')
            continue
        facts = scan.images.get(record.file)
        if facts is None:
            continue
        if facts.error:
            add(ERROR, 'unreadable_image', 'qemu-img cannot read it: %s'
                % facts.error)
            continue
        if facts.format != 'qcow2':
            add(ERROR, 'not_qcow2', 'snapshot file is %s, not qcow2'
                % facts.format)
        backing = facts.backing
        if backing is not None:
            unsafe = backing_problem(backing)
            if unsafe:
                add(ERROR, 'backing_unsafe', 'backing file name %r %s: '
                    'backing names must be bare file names in the snapshot '
                    'folder' % (backing, unsafe))
        if record.kind == chain_mod.FULL and backing is not None:
            add(ERROR, 'full_with_backing', 'full snapshot has backing '
                'file %r' % backing)
        elif record.kind == chain_mod.INCREMENTAL:
            parent = scan.chain.get(record.parent)
            if parent is not None and backing != parent.file:
                add(ERROR, 'backing_wrong', 'backing file is %r, expected '
                    'parent %s\'s file %s' % (backing, parent.id,
                                              parent.file))
        problems += _check_result(facts, vid, record.id, path)
    return problems


def check_bitmaps(scan, offline=False):
    """The volume's bitmaps against the chain's head."""
    facts = scan.volume_image
    chain = scan.chain
    if facts is None or facts.error or chain is None:
        return []
    vid = scan.volume_id
    name = scan.volume_file
    problems = []
    by_name = {b.get('name'): b for b in facts.bitmaps}
    head = chain.get(chain.head) if chain.head else None
    wanted = chain_mod.bitmap_name(head.id) if head is not None else None
    if head is not None:
        bitmap = by_name.get(wanted)
        if bitmap is None:
            problems.append(Problem(
                ERROR, 'bitmap_missing', 'volume lacks bitmap %s of head '
                'snapshot %s: the next snapshot will be full' % (
                    wanted, head.id), volume=vid, snapshot=head.id,
                file=name))
        else:
            flags = bitmap.get('flags') or []
            if 'in-use' in flags:
                problems.append(_in_use_problem(scan, wanted, head.id,
                                                offline))
            if 'auto' not in flags:
                problems.append(Problem(
                    ERROR, 'bitmap_disabled', 'bitmap %s does not record '
                    'writes (no "auto" flag)' % wanted, volume=vid,
                    snapshot=head.id, file=name))
    for bitmap_name in sorted(by_name):
        if (bitmap_name and chain_mod.is_ours(bitmap_name) and
                bitmap_name != wanted):
            sid = bitmap_name[len(chain_mod.BITMAP_PREFIX):]
            problems.append(Problem(
                WARNING, 'stray_bitmap', 'bitmap %s is not the head\'s '
                '(head: %s); the driver removes it at the next snapshot'
                % (bitmap_name, chain.head), volume=vid,
                snapshot=sid if _is_uuid(sid) else None, file=name))
    return problems


def _in_use_problem(scan, bitmap, sid, offline):
    vid = scan.volume_id
    name = scan.volume_file
    if scan.open_by:
        return Problem(INFO, 'bitmap_in_use', 'bitmap %s is in-use: normal, '
                       'the volume is open by %s' % (
                           bitmap, ', '.join(scan.open_by)),
                       volume=vid, snapshot=sid, file=name)
    if offline:
        return Problem(ERROR, 'bitmap_inconsistent', 'bitmap %s is in-use '
                       'but no process has the volume open: inconsistent '
                       '(a QEMU died); the next snapshot will be full'
                       % bitmap, volume=vid, snapshot=sid, file=name)
    return Problem(WARNING, 'bitmap_in_use', 'bitmap %s is in-use and no '
                   'process on this host has the volume open: normal if a '
                   'VM on another host runs it, else inconsistent (check '
                   'with --offline when no VM runs)' % bitmap,
                   volume=vid, snapshot=sid, file=name)


def check_journal(scan):
    journal = scan.chain.journal
    if not journal:
        return []
    text = ('interrupted %s to snapshot %s left its journal (undo file '
            '%s): the driver restores the volume at its next operation on '
            'it' % (journal.get('op'), journal.get('snapshot'),
                    journal.get('undo')))
    return [Problem(
        ERROR, 'journal', text,
        volume=scan.volume_id, snapshot=journal.get('snapshot'),
        file=scan.in_folder(store.DOCUMENT))]


def find_orphans(scan):
    """Files of the snapshot folder the chain document does not reference.

    Only names of the driver's own patterns are orphans; anything else is
    left to :func:`unexpected_entries`. A journaled undo file is not an
    orphan: the driver needs it to finish the interrupted revert.
    """
    if scan.chain is None:
        return []
    known = {r.file for r in scan.chain.snapshots if _safe_record_file(r)}
    journal_undo = (scan.chain.journal or {}).get('undo')
    orphans = []
    for name in sorted(scan.entries):
        entry = scan.entries[name]
        if name == store.DOCUMENT or name in known:
            continue
        reason = _orphan_reason(name)
        if reason is None or name == journal_undo:
            continue
        if entry.type == DIR:
            continue
        orphans.append(Orphan(scan.in_folder(name), reason,
                              volume=scan.volume_id, entry=entry))
    return orphans


def _orphan_reason(name):
    if SNAPSHOT_PART.match(name):
        return 'partial copy of a snapshot that never completed'
    if UNDO_FILE.match(name):
        return 'undo file of a revert that completed or was rolled back'
    if CHAIN_TMP.match(name):
        return 'temporary chain document of an interrupted write'
    if layout.snapshot_id_of(name):
        return 'snapshot file not in the chain document'
    return None


def unexpected_entries(scan):
    """Names in the snapshot folder that are not the driver's."""
    problems = []
    known = {r.file for r in scan.chain.snapshots} if scan.chain else set()
    for name in sorted(scan.entries):
        entry = scan.entries[name]
        if name == store.DOCUMENT and entry.type == FILE:
            continue
        if name in known:
            continue  # judged by check_snapshot_files
        ours = _orphan_reason(name) is not None
        if ours and entry.type in (FILE, SYMLINK):
            continue  # an orphan: reported by find_orphans' caller
        if entry.type == SYMLINK:
            problems.append(Problem(ERROR, 'symlink', _symlink_text(entry),
                                    volume=scan.volume_id,
                                    file=scan.in_folder(name)))
        elif not ours or entry.type != FILE:
            problems.append(Problem(
                WARNING, 'unexpected_name', 'not a name the driver writes; '
                'ignored, never deleted', volume=scan.volume_id,
                file=scan.in_folder(name)))
    return problems


# -- gc --------------------------------------------------------------------

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
        if entry.type == SYMLINK:
            refused.append(Problem(ERROR, 'symlink', _symlink_text(entry),
                                   volume=orphan.volume, file=orphan.path))
        elif entry.type != FILE and not orphan.is_folder:
            refused.append(Problem(ERROR, 'unexpected_type', 'not a regular '
                                   'file; not removed', volume=orphan.volume,
                                   file=orphan.path))
        elif entry.age < min_age:
            refused.append(Problem(
                WARNING, 'orphan_recent', 'modified %ds ago (< --min-age '
                '%ds): an operation may still be running; not removed'
                % (entry.age, min_age), volume=orphan.volume,
                file=orphan.path))
        else:
            removable.append(orphan)

    for entry in listing.parts:
        consider(Orphan(entry.name, 'leftover of an interrupted revert or '
                        'volume copy',
                        volume=VOLUME_PART.match(entry.name).group(1),
                        entry=entry))
    for scan in scans:
        if scan.folder is None:
            continue
        if scan.folder.type != DIR:
            if scan.folder.type == SYMLINK:
                refused.append(Problem(ERROR, 'symlink',
                                       _symlink_text(scan.folder),
                                       volume=scan.volume_id,
                                       file=scan.folder_name))
            continue
        if scan.chain_error is not None:
            refused.append(Problem(
                ERROR, 'chain_unreadable', '%s; volume left untouched'
                % scan.chain_error, volume=scan.volume_id,
                file=scan.in_folder(store.DOCUMENT)))
            continue
        if scan.volume is None:
            live = scan.chain.live() if scan.chain else []
            if live:
                refused.append(Problem(
                    ERROR, 'volume_missing', 'volume file is gone but the '
                    'chain document lists live snapshot(s) %s; not removed '
                    '(remove by hand once Cinder no longer knows them)'
                    % ', '.join(r.id for r in live),
                    volume=scan.volume_id, file=scan.folder_name))
                continue
            strange = [n for n, e in scan.entries.items()
                       if e.type != FILE or not (
                           n == store.DOCUMENT or _orphan_reason(n))]
            if strange:
                refused.append(Problem(
                    ERROR, 'volume_missing', 'volume file is gone; folder '
                    'not removed: it holds names the driver does not '
                    'write: %s' % ', '.join(sorted(strange)),
                    volume=scan.volume_id, file=scan.folder_name))
                continue
            consider(Orphan(scan.folder_name, 'snapshot folder of a volume '
                            'that is gone', volume=scan.volume_id,
                            entry=scan.folder, is_folder=True))
            continue
        for orphan in find_orphans(scan):
            consider(orphan)
        for name, entry in sorted(scan.entries.items()):
            # Symlinks with an orphan's name were refused above.
            if entry.type == SYMLINK and _orphan_reason(name) is None:
                refused.append(Problem(ERROR, 'symlink',
                                       _symlink_text(entry),
                                       volume=scan.volume_id,
                                       file=scan.in_folder(name)))
    return removable, refused


# -- chains ----------------------------------------------------------------

def chain_rows(scan):
    """One dict per snapshot: the ``chains`` command's table."""
    chain = scan.chain
    if chain is None:
        return []
    own = {}
    for record in chain.snapshots:
        entry = scan.entries.get(record.file)
        own[record.id] = (entry.allocated if entry is not None and
                          entry.type == FILE else None)
    rows = []
    for record in chain.snapshots:
        total = 0
        for ancestor in _lineage(chain, record):
            size = own.get(ancestor.id)
            if size is None:
                total = None
                break
            total += size
        entry = scan.entries.get(record.file)
        rows.append({
            'id': record.id,
            'kind': record.kind,
            'parent': record.parent,
            'depth': record.depth,
            'hidden': bool(record.hidden),
            'head': record.id == chain.head,
            'own_bytes': own[record.id],
            'chain_bytes': total,
            'full_reason': record.reason,
            'mode': record.mode,
            'created_at': record.created_at,
            'file': record.file,
            'present': entry is not None,
        })
    return rows


def _lineage(chain, record):
    """The record and its ancestors; stops on a loop."""
    seen = set()
    while record is not None and record.id not in seen:
        seen.add(record.id)
        yield record
        record = chain.get(record.parent) if record.parent else None
