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
"""Where a volume's files live on its share.

    <share mount>/volume-<id>                      the volume (qcow2 v3)
    <share mount>/volume-<id>.incsnap/             its snapshot folder
        chain.json                                 the chain document
        snapshot-<snapshot id>.qcow2               one file per snapshot
        snapshot-<snapshot id>.qcow2.part          a copy in progress
        revert-<snapshot id>.undo.qcow2            a revert's undo file
        .chain.<random>.tmp                        the document being written
    <share mount>/volume-<id>.revert.part          a revert's copy in progress
    <share mount>/volume-<id>.part                 a new volume being copied
    <share mount>/volume-<id>.info                 Cinder remotefs' own file

Every name is built from a validated UUID, so no name can climb out of
the share. Backing files are written relative to the snapshot folder (a
bare file name), so the chain reads the same from every host's mount point.

Each name has its builder here and, for whoever reads a share
(``incsnap-manage``), a reader that gives the id back (``*_id_of``), both
from the same template.
"""

import os
import re

# Cinder's volume_name_template (its default; the driver's files are
# named by Cinder's volume.name).
VOLUME_PREFIX = 'volume-'
SNAPSHOT_DIR_SUFFIX = '.incsnap'
PART_SUFFIX = '.part'
REVERT_SUFFIX = '.revert'
UNDO_SUFFIX = '.undo.qcow2'
# Cinder's remotefs keeps a JSON ".info" file next to some volumes.
INFO_SUFFIX = '.info'
CHAIN_DOCUMENT = 'chain.json'
# The chain document is written to a temporary file (tempfile.mkstemp's
# prefix and suffix) and renamed over the document.
CHAIN_TMP_PREFIX = '.chain.'
CHAIN_TMP_SUFFIX = '.tmp'

_VOLUME = VOLUME_PREFIX + '%s'
_SNAPSHOT = 'snapshot-%s.qcow2'
_UNDO = 'revert-%s' + UNDO_SUFFIX

# The canonical spelling only (what Cinder generates): then every name
# built from an id reads back to it with snapshot_id_of.
_UUID = (r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
         r'[0-9a-f]{12}')
_CANONICAL_UUID = re.compile(_UUID)


def _reader(*templates):
    """A regex matching the names ``templates`` build.

    The id is the group that matched (see :func:`_id_of`).
    """
    uuid_group = '(%s)' % _UUID
    return re.compile('^(?:%s)$' % '|'.join(
        re.escape(template) % uuid_group for template in templates))


_SNAPSHOT_FILE = _reader(_SNAPSHOT)
_SNAPSHOT_PART = _reader(_SNAPSHOT + PART_SUFFIX)
_UNDO_FILE = _reader(_UNDO)
_VOLUME_FILE = _reader(_VOLUME)
_VOLUME_DIR = _reader(_VOLUME + SNAPSHOT_DIR_SUFFIX)
_VOLUME_PART = _reader(_VOLUME + REVERT_SUFFIX + PART_SUFFIX,
                       _VOLUME + PART_SUFFIX)
_VOLUME_INFO = _reader(_VOLUME + INFO_SUFFIX)
_CHAIN_TMP = re.compile('^%s[A-Za-z0-9_]+%s$' % (
    re.escape(CHAIN_TMP_PREFIX), re.escape(CHAIN_TMP_SUFFIX)))


class UnsafeName(ValueError):
    """An identifier is not a UUID and cannot name a file."""


def check_uuid(kind, value):
    if not _CANONICAL_UUID.fullmatch(str(value)):
        raise UnsafeName('%s id %r is not a UUID' % (kind, value))
    return str(value)


def is_uuid(value):
    """True when ``value`` is a UUID that may name a file."""
    return bool(_CANONICAL_UUID.fullmatch(str(value)))


def volume_file(volume_id):
    return _VOLUME % check_uuid('volume', volume_id)


def snapshot_dir(volume_path):
    return volume_path + SNAPSHOT_DIR_SUFFIX


def snapshot_file(snapshot_id):
    return _SNAPSHOT % check_uuid('snapshot', snapshot_id)


def part_file(snapshot_id):
    return snapshot_file(snapshot_id) + PART_SUFFIX


def undo_file(snapshot_id):
    return _UNDO % check_uuid('snapshot', snapshot_id)


def revert_file(volume_path):
    return volume_path + REVERT_SUFFIX + PART_SUFFIX


def new_volume_part(volume_path):
    return volume_path + PART_SUFFIX


def _id_of(reader, file_name):
    match = reader.fullmatch(file_name)
    return match.group(match.lastindex) if match else None


def snapshot_id_of(file_name):
    """The snapshot id in a snapshot file name, or None."""
    return _id_of(_SNAPSHOT_FILE, file_name)


def part_snapshot_id_of(file_name):
    """The snapshot id in a snapshot copy in progress (:func:`part_file`)."""
    return _id_of(_SNAPSHOT_PART, file_name)


def undo_snapshot_id_of(file_name):
    """The snapshot id in a revert's undo file name, or None."""
    return _id_of(_UNDO_FILE, file_name)


def volume_id_of(file_name):
    """The volume id in a volume file name (:func:`volume_file`), or None."""
    return _id_of(_VOLUME_FILE, file_name)


def snapshot_dir_volume_id_of(file_name):
    """The volume id in a snapshot folder's name, or None."""
    return _id_of(_VOLUME_DIR, file_name)


def volume_part_id_of(file_name):
    """The volume id in a volume-level copy in progress, or None.

    That is :func:`revert_file` or :func:`new_volume_part` of the volume.
    """
    return _id_of(_VOLUME_PART, file_name)


def volume_info_id_of(file_name):
    """The volume id in Cinder remotefs' ``.info`` file name, or None."""
    return _id_of(_VOLUME_INFO, file_name)


def is_chain_tmp(file_name):
    """True for a chain document being written (or left by a crash)."""
    return bool(_CHAIN_TMP.fullmatch(file_name))


def is_leftover(file_name, keep=None):
    """Whether a snapshot folder's file is never complete data.

    Partial copies, undo files and temporary documents, but ``keep`` (the
    undo file a revert's journal still needs).
    """
    if file_name == keep:
        return False
    return (file_name.endswith(PART_SUFFIX) or
            file_name.endswith(UNDO_SUFFIX) or
            file_name.startswith(CHAIN_TMP_PREFIX))


def is_revert_leftover(file_name):
    """Whether a leftover's name is a revert's (undo file, partial copy)."""
    return (file_name.endswith(UNDO_SUFFIX) or
            file_name.endswith(REVERT_SUFFIX + PART_SUFFIX))


def volume_ids_named(text, share_dir):
    """The ids of the volumes whose files ``text`` names in ``share_dir``.

    ``text``: an argument of a command line (a path, or the JSON of a
    QEMU block device holding one). A volume file, its snapshot folder's
    files and its partial copies all start with ``<share>/volume-<id>``.
    """
    pattern = re.compile(re.escape(share_dir.rstrip(os.sep) + os.sep) +
                         re.escape(VOLUME_PREFIX) + '(' + _UUID + ')')
    return set(pattern.findall(text))


def backing_name_problem(name):
    """Why a stored backing file name is not a bare file name, or None."""
    if name.startswith('/'):
        return 'is absolute'
    if '/' in name:
        return 'contains "/"'
    if '..' in name:
        return 'contains ".."'
    return None


def is_inside(directory, path):
    """True when ``path`` resolves (symlinks too) inside ``directory``."""
    directory = os.path.realpath(directory)
    return os.path.realpath(path).startswith(directory + os.sep)
