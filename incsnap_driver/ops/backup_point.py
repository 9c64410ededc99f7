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
"""A backup's point in time: which bitmaps, which extents, the manifest.

Plain functions over plain values (no I/O). Each backup of a detached
volume leaves a persistent dirty bitmap ``incsnap-backup-<backup id>`` in
the volume's qcow2, created at the backup's point in time; the next
backup, incremental from it, ships what that bitmap marks. The snapshot
bitmaps (``incsnap-<snapshot id>``) are never touched.

Kept: the bitmap of the parent backup (the backup being taken may fail,
and the next one is then incremental from that parent again) and the new
one; every other backup bitmap is removed, so a volume holds at most two.

The manifest ``incsnap-backup.json`` (format 1) next to the raw view
tells the backup driver the byte ranges that may differ from the parent
backup, or ``extents: null`` with the reason why it cannot know.
"""

import dataclasses
import typing

from incsnap_driver import chain as chain_mod

MANIFEST = 'incsnap-backup.json'
MANIFEST_FORMAT = 1
BACKUP_BITMAP_PREFIX = chain_mod.BACKUP_BITMAP_PREFIX

# What a view is for, from the status Cinder's backup manager set.
BACKUP = 'backup'
RESTORE = 'restore'
_PURPOSE_OF_STATUS = {'backing-up': BACKUP, 'restoring-backup': RESTORE}

GiB = 1024 ** 3


def bitmap_name(backup_id):
    return BACKUP_BITMAP_PREFIX + backup_id


def is_backup_bitmap(name):
    return name.startswith(BACKUP_BITMAP_PREFIX)


def purpose_of(status):
    """BACKUP, RESTORE or None (an ordinary attachment) for a status."""
    return _PURPOSE_OF_STATUS.get(status)


@dataclasses.dataclass(frozen=True)
class Request:
    """The backup being taken, as Cinder's objects describe it.

    ``source``: 'volume' (a detached volume, its current content),
    'snapshot' (``--snapshot``) or 'temp_snapshot' (an in-use volume,
    through the temporary snapshot Cinder takes). Sizes in GiB.
    """

    volume_id: str
    backup_id: str
    parent_id: typing.Optional[str]
    size_gb: int
    parent_size_gb: typing.Optional[int] = None
    source: str = 'volume'


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to do on the volume before its view is exported.

    ``extents_from``: the bitmap whose dirty extents the manifest lists
    (None: ``extents`` null, ``reason`` says why); ``add``: the new
    backup's bitmap; ``remove``: backup bitmaps to drop first.
    """

    extents_from: typing.Optional[str]
    reason: typing.Optional[str]
    add: typing.Optional[str]
    remove: tuple = ()


def plan(request, bitmaps):
    """The :class:`Plan` for ``request``.

    ``bitmaps``: {name: chain.BitmapState} of the volume's qcow2 header
    (no QEMU has it open: the volume is detached).
    """
    if request.source != 'volume':
        why = ('backup from a snapshot' if request.source == 'snapshot'
               else 'in-use volume (backed up from a temporary snapshot)')
        # A bitmap added now would start at the wrong point in time.
        return Plan(extents_from=None, add=None,
                    reason='%s: no backup bitmap at its point in time '
                    '(not supported yet)' % why)
    new = bitmap_name(request.backup_id)
    ours = sorted(n for n in bitmaps if is_backup_bitmap(n))
    extents_from, reason = None, None
    if not request.parent_id:
        reason = 'no parent backup (a full backup)'
    else:
        wanted = bitmap_name(request.parent_id)
        state = bitmaps.get(wanted)
        if state is None:
            reason = 'no bitmap for parent backup %s' % request.parent_id
        elif not state.consistent:
            reason = ('bitmap of parent backup %s inconsistent (a QEMU '
                      'died with the volume open)' % request.parent_id)
        elif not state.recording:
            reason = ('bitmap of parent backup %s does not record writes'
                      % request.parent_id)
        elif (request.parent_size_gb is not None and
              request.parent_size_gb != request.size_gb):
            reason = ('volume resized since parent backup %s (%s GiB, now '
                      '%s GiB)' % (request.parent_id, request.parent_size_gb,
                                   request.size_gb))
        else:
            extents_from = wanted
    remove = tuple(n for n in ours if n != extents_from)
    return Plan(extents_from=extents_from, reason=reason, add=new,
                remove=remove)


def coalesce(extents):
    """Sorted, non-overlapping [offset, length] lists, touching ones merged."""
    merged = []
    for offset, length in sorted((int(o), int(n)) for o, n in extents):
        if length <= 0:
            continue
        if merged and offset <= merged[-1][0] + merged[-1][1]:
            end = max(merged[-1][0] + merged[-1][1], offset + length)
            merged[-1][1] = end - merged[-1][0]
        else:
            merged.append([offset, length])
    return merged


def manifest(request, size, granularity, extents, reason):
    """The manifest document (a dict, JSON-ready)."""
    return {
        'format': MANIFEST_FORMAT,
        'volume_id': request.volume_id,
        'backup_id': request.backup_id,
        'parent_backup_id': request.parent_id,
        'size': int(size),
        'granularity': int(granularity),
        'extents': coalesce(extents) if extents is not None else None,
        'reason': None if extents is not None else reason,
    }
