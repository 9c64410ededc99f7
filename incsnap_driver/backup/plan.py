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
"""Differential backups: the manifest, the choice, the blocks to read.

Plain functions over plain data, no I/O. The volume driver writes
``incsnap-backup.json`` next to the raw view it gives cinder-backup::

    {"format": 1, "volume_id": ..., "backup_id": ...,
     "parent_backup_id": <id or null>, "size": <bytes>,
     "granularity": <bitmap granularity>,
     "extents": [[offset, length], ...] | null,
     "reason": <why extents is null>}

``extents`` are the byte ranges of the view that may differ from the
parent backup's point in time. :func:`choose` says whether a backup can
use them (else the stock read-and-hash path runs, and the reason is
recorded); :func:`block_runs`, :func:`runs_by_window` and
:func:`changed_runs` turn them into the hash blocks to read and the
objects to write, the way Cinder's chunked driver lays them out.
"""

import collections
import dataclasses
import json

MANIFEST_NAME = 'incsnap-backup.json'
FORMAT = 1
# A manifest lists at most one extent per bitmap granule: 4 TiB at 64 KiB
# granularity is 64 Mi extents; refuse anything absurdly larger to read.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024

# How a backup was taken (recorded in the backup's metadata).
DIFFERENTIAL = 'differential'
READ_AND_HASH = 'read-and-hash'
FULL = 'full'

# Keys of the backup's metadata (``openstack volume backup show``).
MODE_KEY = 'incsnap_backup_mode'
REASON_KEY = 'incsnap_backup_reason'
# Cinder's backup_metadata.value column holds 255 characters.
MAX_REASON = 255


class InvalidManifest(ValueError):
    """The manifest cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class Manifest:
    volume_id: str
    backup_id: str
    parent_backup_id: object
    size: int
    granularity: int
    extents: object          # tuple of (offset, length), or None
    reason: str = ''


@dataclasses.dataclass(frozen=True)
class Choice:
    """How to take one backup: ``mode`` and why."""

    mode: str
    reason: str

    @property
    def differential(self):
        return self.mode == DIFFERENTIAL

    def metadata(self):
        """The backup metadata entries recording this choice."""
        return {MODE_KEY: self.mode, REASON_KEY: self.reason[:MAX_REASON]}


def _int(doc, key, minimum):
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidManifest('%s is %r, not an integer' % (key, value))
    if value < minimum:
        raise InvalidManifest('%s is %d, must be >= %d'
                              % (key, value, minimum))
    return value


def _id(doc, key, nullable=False):
    value = doc.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidManifest('%s is %r, not an id' % (key, value))
    return value


def _extents(raw, size):
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidManifest('extents is not a list')
    extents = []
    end = 0
    for item in raw:
        if (not isinstance(item, list) or len(item) != 2 or
                any(isinstance(v, bool) or not isinstance(v, int)
                    for v in item)):
            raise InvalidManifest('extent %r is not [offset, length]'
                                  % (item,))
        offset, length = item
        if offset < 0 or length <= 0:
            raise InvalidManifest('extent %r has a negative offset or no '
                                  'length' % (item,))
        if offset < end:
            raise InvalidManifest('extent %r overlaps or precedes the one '
                                  'before it' % (item,))
        end = offset + length
        if end > size:
            raise InvalidManifest('extent %r ends past the size %d'
                                  % (item, size))
        extents.append((offset, length))
    return tuple(extents)


def parse_manifest(text):
    """A :class:`Manifest` from its JSON text, or :class:`InvalidManifest`.

    An unknown ``format`` is refused: its fields may mean something else.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidManifest('not JSON: %s' % exc)
    if not isinstance(doc, dict):
        raise InvalidManifest('not a JSON object')
    if doc.get('format') != FORMAT:
        raise InvalidManifest('format %r unknown (this driver reads format '
                              '%d)' % (doc.get('format'), FORMAT))
    size = _int(doc, 'size', 1)
    extents = _extents(doc.get('extents'), size)
    reason = doc.get('reason') or ''
    if not isinstance(reason, str):
        reason = str(reason)
    return Manifest(
        volume_id=_id(doc, 'volume_id'),
        backup_id=_id(doc, 'backup_id'),
        parent_backup_id=_id(doc, 'parent_backup_id', nullable=True),
        size=size,
        granularity=_int(doc, 'granularity', 1),
        extents=extents,
        reason=reason)


def choose(manifest, backup_id, volume_id, parent_id, size, parent_size,
           view_size):
    """How to take the backup ``backup_id`` of ``volume_id``.

    ``manifest`` is a :class:`Manifest`, None (there is none: a stock
    volume driver) or an :class:`InvalidManifest`. ``size`` and
    ``parent_size`` are the volume's and the parent backup's sizes in
    bytes (``parent_size`` None without a parent), ``view_size`` the bytes
    the view reads (None: unknown). Only a manifest made for this backup,
    relative to this backup's parent, of an unchanged size, with extents,
    is used.
    """
    if not parent_id:
        return Choice(FULL, 'full backup (no parent backup)')

    def stock(reason):
        return Choice(READ_AND_HASH, reason)

    if manifest is None:
        return stock('no %s next to the volume view' % MANIFEST_NAME)
    if isinstance(manifest, InvalidManifest):
        return stock('invalid %s: %s' % (MANIFEST_NAME, manifest))
    if manifest.backup_id != backup_id:
        return stock('manifest is for backup %s, not this backup'
                     % manifest.backup_id)
    if manifest.volume_id != volume_id:
        return stock('manifest is for volume %s, not %s'
                     % (manifest.volume_id, volume_id))
    if manifest.parent_backup_id != parent_id:
        return stock('manifest extents are relative to %s, not to the '
                     'parent backup %s'
                     % (manifest.parent_backup_id or 'no backup', parent_id))
    if manifest.extents is None:
        return stock('no extents: %s' % (manifest.reason or
                                         'no reason given'))
    if manifest.size != size:
        return stock('manifest size %d differs from the volume size %d'
                     % (manifest.size, size))
    if parent_size != size:
        return stock('volume size %d differs from the parent backup '
                     'size %d' % (size, parent_size))
    if view_size is None:
        return stock('the view cannot seek: its size is unknown')
    if view_size != size:
        return stock('the view reads %d bytes, the volume has %d'
                     % (view_size, size))
    dirty = sum(length for _, length in manifest.extents)
    return Choice(DIFFERENTIAL, '%d of %d bytes dirty in %d extents since '
                  'backup %s' % (dirty, size, len(manifest.extents),
                                 parent_id))


def parent_hashes_unusable(chunk_size, block_size, parent_block_size,
                           parent_hashes, size):
    """Why the parent's sha256 file cannot be the base, or None.

    ``chunk_size``/``block_size``: this driver's ``backup_file_size`` and
    ``backup_sha_block_size_bytes``; ``parent_block_size`` and
    ``parent_hashes``: the parent's sha256 file's block size and hash
    count; ``size``: the volume's bytes.
    """
    if chunk_size % block_size:
        return 'chunk size is not a multiple of the hash block size'
    if parent_block_size != block_size:
        return ('hash block size changed since the parent backup (%s, now '
                '%d)' % (parent_block_size, block_size))
    expected = block_count(size, block_size)
    if parent_hashes != expected:
        return ('the parent backup\'s sha256 file has %d hashes, the volume '
                '%d blocks' % (parent_hashes, expected))
    return None


def block_count(size, block_size):
    """Hash blocks of a volume of ``size`` bytes (the last may be short)."""
    return -(-size // block_size)


def block_runs(extents, block_size, size):
    """The hash blocks touched by ``extents``: ``[(first, end), ...]``.

    Block indexes, ``end`` exclusive, sorted, merged where they touch.
    """
    count = block_count(size, block_size)
    runs = []
    for offset, length in extents:
        first = offset // block_size
        end = min(count, block_count(offset + length, block_size))
        if first >= end:
            continue
        if runs and first <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([first, end])
    return [tuple(run) for run in runs]


def runs_by_window(runs, blocks_per_window):
    """``{window: [(first, end), ...]}``, runs cut at window boundaries.

    A window is one ``chunk_size`` read of Cinder's chunked driver; its
    objects never straddle two, so ours must not either.
    """
    windows = collections.defaultdict(list)
    for first, end in runs:
        while first < end:
            window = first // blocks_per_window
            stop = min(end, (window + 1) * blocks_per_window)
            windows[window].append((first, stop))
            first = stop
    return dict(windows)


def changed_runs(new_shas, old_shas):
    """Index runs ``[(i, j), ...]`` where ``new_shas`` differ from old.

    These become one object each, as the stock driver writes them.
    """
    runs = []
    start = None
    for index, (new, old) in enumerate(zip(new_shas, old_shas)):
        if new != old:
            if start is None:
                start = index
        elif start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(new_shas)))
    return runs
