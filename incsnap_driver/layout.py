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

Every name is built from a validated UUID, so no name can climb out of
the share. Backing files are written relative to the snapshot folder (a
bare file name), so the chain reads the same from every host's mount point.
"""

import os
import re

SNAPSHOT_DIR_SUFFIX = '.incsnap'
PART_SUFFIX = '.part'
# The canonical spelling only (what Cinder generates): then every name
# built from an id reads back to it with snapshot_id_of.
_UUID = (r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
         r'[0-9a-f]{12}')
_CANONICAL_UUID = re.compile(_UUID)
_SNAPSHOT_FILE = re.compile(r'^snapshot-(%s)\.qcow2$' % _UUID)


class UnsafeName(ValueError):
    """An identifier is not a UUID and cannot name a file."""


def check_uuid(kind, value):
    if not _CANONICAL_UUID.fullmatch(str(value)):
        raise UnsafeName('%s id %r is not a UUID' % (kind, value))
    return str(value)


def snapshot_dir(volume_path):
    return volume_path + SNAPSHOT_DIR_SUFFIX


def snapshot_file(snapshot_id):
    return 'snapshot-%s.qcow2' % check_uuid('snapshot', snapshot_id)


def part_file(snapshot_id):
    return snapshot_file(snapshot_id) + PART_SUFFIX


def undo_file(snapshot_id):
    return 'revert-%s.undo.qcow2' % check_uuid('snapshot', snapshot_id)


def revert_file(volume_path):
    return volume_path + '.revert' + PART_SUFFIX


def new_volume_part(volume_path):
    return volume_path + PART_SUFFIX


def snapshot_id_of(file_name):
    """The snapshot id in a snapshot file name, or None."""
    match = _SNAPSHOT_FILE.match(file_name)
    return match.group(1) if match else None


def is_inside(directory, path):
    """True when ``path`` resolves (symlinks too) inside ``directory``."""
    directory = os.path.realpath(directory)
    return os.path.realpath(path).startswith(directory + os.sep)
