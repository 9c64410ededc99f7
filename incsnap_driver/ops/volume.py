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
"""What every operation on one volume needs first.

:class:`VolumeFiles`: the volume's file and snapshot folder, refused when
either is a symbolic link or leads out of the share (the driver writes,
reads and removes files there). :class:`VolumeContext`: those files with
the chain store and the chain, opened (under the volume's lock) after
finishing what an interrupted operation left.
"""

import dataclasses
import os

from cinder.i18n import _

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.ops import errors
from incsnap_driver.ops import recovery
from incsnap_driver.qemu import bitmaps
from incsnap_driver.qemu import img
from incsnap_driver import store


@dataclasses.dataclass(frozen=True)
class VolumeFiles:
    """Where one volume's files are: ``path`` (the volume), ``snap_dir``."""

    volume_id: str
    path: str
    snap_dir: str

    @classmethod
    def checked(cls, volume_id, volume_path):
        """The volume's files; BackendFailed for a link or a way out."""
        snap_dir = layout.snapshot_dir(volume_path)
        share_root = os.path.dirname(volume_path)
        for path in (volume_path, snap_dir):
            if os.path.islink(path) or (
                    os.path.lexists(path) and
                    not layout.is_inside(share_root, path)):
                raise errors.BackendFailed(
                    _('Volume %(vol)s: %(path)s is a symbolic link or '
                      'leads out of the share; refusing to use it.')
                    % {'vol': volume_id, 'path': path})
        return cls(volume_id=volume_id, path=volume_path, snap_dir=snap_dir)

    @property
    def name(self):
        """The volume file's name (as a VM's disk source ends)."""
        return os.path.basename(self.path)

    def in_folder(self, name):
        return os.path.join(self.snap_dir, name)

    def folder_names(self):
        """The names in the snapshot folder, sorted; none when it is gone."""
        try:
            return sorted(os.listdir(self.snap_dir))
        except FileNotFoundError:
            return []


class VolumeContext:
    """One volume opened for an operation.

    ``backend`` (:class:`~incsnap_driver.ops.backend.Backend`), ``files``
    (:class:`VolumeFiles`), ``store`` (its
    :class:`~incsnap_driver.store.ChainStore`) and ``chain``, which the
    operation changes and then :meth:`save` s. ``recovered``: what
    finishing interrupted work did when it was opened
    (:class:`~incsnap_driver.ops.recovery.Recovered`).
    """

    def __init__(self, backend, files, chain_store, chain):
        self.backend = backend
        self.files = files
        self.store = chain_store
        self.chain = chain
        self.recovered = None

    @classmethod
    def open(cls, backend, volume_id, volume_path, deleting=None):
        """The volume's chain, after finishing any interrupted operation.

        Call it under the volume's lock. ``deleting``: the id of a
        snapshot being deleted, whose own file does not count as damage
        when the document is missing (a process killed before the
        document of the volume's first snapshot was written, by a driver
        older than the one that writes it first).
        """
        files = VolumeFiles.checked(volume_id, volume_path)
        chain_store = store.ChainStore(files.snap_dir,
                                       file_mode=backend.file_mode)
        try:
            chain = chain_store.load(volume_id)
        except store.ChainDocumentError as exc:
            raise errors.BackendFailed(
                _('Volume %(vol)s: %(err)s. Inspect it with '
                  'incsnap-manage verify.') % {'vol': volume_id, 'err': exc})
        if not chain_store.exists():
            _refuse_lost_document(files, chain_store, deleting)
        context = cls(backend, files, chain_store, chain)
        context.recovered = recovery.recover(context)
        return context

    @property
    def volume_id(self):
        return self.files.volume_id

    def save(self):
        self.store.save(self.chain)

    def live_snapshot(self, snapshot_id):
        """The record of a snapshot that has its file; else SnapshotInvalid."""
        record = self.chain.get(snapshot_id)
        if record is None or record.hidden:
            raise errors.SnapshotInvalid(
                _('snapshot %(snap)s of volume %(vol)s has no file on the '
                  'backend') % {'snap': snapshot_id, 'vol': self.volume_id})
        return record

    def facts(self, parent=None):
        """(VolumeFacts, qemu-img info) of the volume file, for planning.

        ``parent``: the record whose file must be present for an
        incremental child.
        """
        info = img.info(self.files.path,
                        execute=self.backend.runner(reads=[self.files.path]))
        parent_present = True
        if parent is not None:
            parent_present = os.path.exists(self.files.in_folder(
                parent.file))
        return chain_mod.VolumeFacts(
            format=info.get('format'),
            qcow2_v3=img.qcow2_compat(info) == img.QCOW2_V3,
            size=info.get('virtual-size', 0),
            bitmaps=bitmaps.from_header(img.bitmaps(info)),
            parent_file_present=parent_present), info


def _refuse_lost_document(files, chain_store, deleting):
    """No document but snapshot files: it was removed from outside.

    Going on would take the files for leftovers and plan as if the volume
    had no snapshot.
    """
    found = [n for n in files.folder_names()
             if layout.snapshot_id_of(n) not in (None, deleting)]
    if found:
        raise errors.BackendFailed(
            _('Volume %(vol)s: the chain document %(doc)s is missing while '
              '%(n)d snapshot file(s) exist (%(files)s). Inspect it with '
              'incsnap-manage verify.') % {'vol': files.volume_id,
                                           'doc': chain_store.path,
                                           'n': len(found),
                                           'files': ', '.join(found[:3])})
