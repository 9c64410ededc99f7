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
"""The per-volume chain document on the share.

One JSON file per volume, next to the snapshot files. It is never rewritten
in place: a new version goes to a temporary file in the same directory, is
fsync'ed, and renamed over the old one (rename is atomic on POSIX file
systems, NFS included), then the directory is fsync'ed. A reader therefore
sees the old or the new document, never a mix. Callers hold the volume's
lock for read-modify-write cycles.

The qcow2 headers stay the ground truth for the data; the document records
what they cannot: hidden flags, why a snapshot was full, checkpoint XML,
and an in-flight operation's journal.
"""

import dataclasses
import json
import os
import tempfile

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout

FORMAT_VERSION = 1
DOCUMENT = layout.CHAIN_DOCUMENT


class ChainDocumentError(Exception):
    """The chain document exists but cannot be read."""

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__('chain document %s is unreadable: %s'
                         % (path, reason))


def to_dict(chain):
    return {
        'version': FORMAT_VERSION,
        'volume_id': chain.volume_id,
        'head': chain.head,
        'journal': chain.journal,
        'snapshots': [dataclasses.asdict(r) for r in chain.snapshots],
    }


def from_dict(data):
    fields = {f.name for f in dataclasses.fields(chain_mod.SnapshotRecord)}
    records = []
    for item in data.get('snapshots', []):
        records.append(chain_mod.SnapshotRecord(
            **{k: v for k, v in item.items() if k in fields}))
    return chain_mod.Chain(volume_id=data['volume_id'],
                           snapshots=records,
                           head=data.get('head'),
                           journal=data.get('journal'))


def unsafe_names(chain):
    """Why the document's file names cannot be trusted, or None.

    Every file the driver opens, removes or names as a backing file comes
    from the document: each must be exactly the name the driver gives that
    snapshot (or revert), so that a tampered document cannot point the
    driver at a file outside the volume's snapshot folder.
    """
    for record in chain.snapshots:
        try:
            expected = layout.snapshot_file(record.id)
        except layout.UnsafeName as exc:
            return str(exc)
        if record.file != expected:
            return ('snapshot %s names file %r, expected %s'
                    % (record.id, record.file, expected))
        if record.parent is not None:
            try:
                layout.check_uuid('parent snapshot', record.parent)
            except layout.UnsafeName as exc:
                return str(exc)
    journal = chain.journal
    if journal:
        try:
            expected = layout.undo_file(journal.get('snapshot'))
        except (layout.UnsafeName, AttributeError) as exc:
            return 'journal: %s' % exc
        if journal.get('undo') != expected:
            return ('journal names undo file %r, expected %s'
                    % (journal.get('undo'), expected))
    return None


class ChainStore:
    """Reads and writes the chain document in ``directory``."""

    def __init__(self, directory, file_mode=0o660):
        self.directory = directory
        self.file_mode = file_mode

    @property
    def path(self):
        return os.path.join(self.directory, DOCUMENT)

    def exists(self):
        return os.path.exists(self.path)

    def load(self, volume_id):
        """The chain; an empty one when the document does not exist."""
        try:
            with open(self.path, 'rb') as f:
                raw = f.read()
        except FileNotFoundError:
            return chain_mod.Chain(volume_id=volume_id)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ChainDocumentError(self.path, 'not JSON (%s)' % exc)
        if not isinstance(data, dict) or 'volume_id' not in data:
            raise ChainDocumentError(self.path, 'not a chain document')
        if data.get('version') != FORMAT_VERSION:
            raise ChainDocumentError(
                self.path, 'format version %r, expected %d'
                % (data.get('version'), FORMAT_VERSION))
        if data['volume_id'] != volume_id:
            raise ChainDocumentError(
                self.path, 'belongs to volume %s, not %s'
                % (data['volume_id'], volume_id))
        try:
            chain = from_dict(data)
        except (TypeError, KeyError, AttributeError) as exc:
            # AttributeError: a record that is not a JSON object.
            raise ChainDocumentError(self.path, 'malformed record (%s)'
                                     % exc)
        problem = unsafe_names(chain)
        if problem:
            raise ChainDocumentError(self.path, problem)
        return chain

    def save(self, chain):
        os.makedirs(self.directory, exist_ok=True)
        payload = json.dumps(to_dict(chain), indent=1,
                             sort_keys=True).encode('utf-8')
        fd, tmp = tempfile.mkstemp(prefix=layout.CHAIN_TMP_PREFIX,
                                   suffix=layout.CHAIN_TMP_SUFFIX,
                                   dir=self.directory)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, self.file_mode)
            os.rename(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        fsync_dir(self.directory)

    def remove(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
