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
"""The differential read for Cinder's chunked backup drivers.

Mixed in before a :class:`cinder.backup.chunkeddriver.ChunkedBackupDriver`
subclass. An incremental backup whose volume driver left a usable
manifest (see :mod:`.plan`) reads only the hash blocks the manifest's
extents touch, hashes them, and writes, through the chunked driver's own
``_backup_chunk``/``_finalize_backup``, the objects and sha256 file the
stock driver would have written: the untouched blocks' hashes come from
the parent's sha256 file. Restore, delete, export and import are the
parent class's, unchanged. Every other backup runs the stock ``backup()``;
each records how it was taken and why in the backup's metadata.
"""

import io
import os

from oslo_log import log as logging
from oslo_service import loopingcall
from oslo_utils import excutils
from oslo_utils import units

from cinder import exception
from cinder import objects
from cinder.objects import fields
from cinder import utils

from incsnap_driver.backup import plan

LOG = logging.getLogger(__name__)


def manifest_path(volume_file):
    """Where the manifest of ``volume_file``'s view is, or None.

    ``volume_file`` is what cinder-backup passes to ``backup()``: an open
    file (through ``tpool.Proxy``, whose ``.name`` is the file's) or an
    os-brick file-like object without a name.
    """
    name = getattr(volume_file, 'name', None)
    if not isinstance(name, str) or not name:
        return None
    return os.path.join(os.path.dirname(os.path.realpath(name)),
                        plan.MANIFEST_NAME)


def read_manifest(path):
    """The :class:`plan.Manifest` at ``path``, if there is one.

    None if there is none; an :class:`plan.InvalidManifest` (returned, not
    raised) if it cannot be read or used.
    """
    if path is None:
        return None
    try:
        with open(path, 'rb') as f:
            text = f.read(plan.MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return plan.InvalidManifest('cannot read %s: %s' % (path, exc))
    if len(text) > plan.MAX_MANIFEST_BYTES:
        return plan.InvalidManifest('larger than %d bytes'
                                    % plan.MAX_MANIFEST_BYTES)
    try:
        return plan.parse_manifest(text)
    except plan.InvalidManifest as exc:
        return exc


def _read_exactly(volume_file, offset, length):
    volume_file.seek(offset)
    parts = []
    left = length
    while left:
        data = volume_file.read(left)
        if not data:
            raise exception.InvalidBackup(
                reason='the volume view ended at %d, %d bytes short of '
                       'the manifest\'s extent at %d'
                       % (offset + length - left, left, offset))
        parts.append(data)
        left -= len(data)
    return parts[0] if len(parts) == 1 else b''.join(parts)


def _view_size(volume_file):
    """Bytes the view reads (None if it cannot seek); back at 0."""
    try:
        volume_file.seek(0, os.SEEK_END)
        size = volume_file.tell()
        volume_file.seek(0)
    except (OSError, io.UnsupportedOperation):
        return None
    return size


class DifferentialBackupMixin(object):
    """``backup()`` reading only the dirty extents when it can."""

    def backup(self, backup, volume_file, backup_metadata=True):
        choice, manifest, parent_shafile = self._incsnap_choose(
            backup, volume_file)
        log = LOG.warning if choice.mode == plan.READ_AND_HASH else LOG.info
        log('Backup %(backup)s of volume %(volume)s: %(mode)s, %(reason)s.',
            {'backup': backup.id, 'volume': backup.volume_id,
             'mode': choice.mode, 'reason': choice.reason})
        self._incsnap_record(backup, choice)
        if not choice.differential:
            return super().backup(backup, volume_file, backup_metadata)
        return self._incsnap_backup(backup, volume_file, backup_metadata,
                                    manifest, parent_shafile)

    # -- the choice -------------------------------------------------------

    def _incsnap_choose(self, backup, volume_file):
        """(:class:`plan.Choice`, the manifest, the parent's sha256 file).

        The manifest and the sha256 file only for a differential backup.
        """
        if not backup.parent_id:
            return plan.choose(None, backup.id, backup.volume_id, None,
                               0, None, 0), None, None
        manifest = read_manifest(manifest_path(volume_file))
        volume = self.db.volume_get(self.context, backup.volume_id)
        parent = objects.Backup.get_by_id(self.context, backup.parent_id)
        size = volume['size'] * units.Gi
        parent_size = (parent.size * units.Gi
                       if parent.size is not None else None)
        view_size = None
        if isinstance(manifest, plan.Manifest):
            view_size = _view_size(volume_file)
        choice = plan.choose(manifest, backup.id, backup.volume_id,
                             backup.parent_id, size, parent_size, view_size)
        if not choice.differential:
            return choice, None, None
        shafile = self._read_sha256file(parent)
        reason = plan.parent_hashes_unusable(
            self.chunk_size_bytes, self.sha_block_size_bytes,
            shafile.get('chunk_size'), len(shafile.get('sha256s', ())),
            size)
        if reason:
            # The stock backup() then runs, or refuses with its own error.
            return plan.Choice(plan.READ_AND_HASH, reason), None, None
        return choice, manifest, shafile

    def _incsnap_record(self, backup, choice):
        """Record the choice in the backup's metadata (``backup show``)."""
        entries = choice.metadata()
        self.db.backup_metadata_update(self.context, backup.id, entries,
                                       False)
        if backup.obj_attr_is_set('metadata'):
            backup.metadata.update(entries)

    # -- the differential read ------------------------------------------

    def _incsnap_backup(self, backup, volume_file, backup_metadata,
                        manifest, parent_shafile):
        block = self.sha_block_size_bytes
        size = manifest.size
        parent_shas = parent_shafile['sha256s']
        windows = plan.runs_by_window(
            plan.block_runs(manifest.extents, block, size),
            self.chunk_size_bytes // block)
        window_count = -(-size // self.chunk_size_bytes)

        (object_meta, object_sha256, extra_metadata, container,
         volume_size_bytes) = self._prepare_backup(backup)
        # The stock driver's progress accounting, per chunk-sized window.
        progress = {'sent': 0}

        def _notify_progress():
            self._send_progress_notification(self.context, backup,
                                             object_meta, progress['sent'],
                                             volume_size_bytes)
        timer = loopingcall.FixedIntervalLoopingCall(_notify_progress)
        if self.enable_progress_timer:
            timer.start(interval=self.backup_timer_interval)

        sha256_list = list(parent_shas)
        counter = 0
        canceled = False
        try:
            for window in range(window_count):
                with backup.as_read_deleted():
                    backup.refresh()
                if backup.status in (fields.BackupStatus.DELETING,
                                     fields.BackupStatus.DELETED):
                    canceled = True
                    self.delete_backup(backup)
                    LOG.debug('Cancel the backup process of %s.', backup.id)
                    break
                for first, end in windows.get(window, ()):
                    self._incsnap_backup_run(
                        backup, volume_file, container, object_meta,
                        extra_metadata, first, end, size, parent_shas,
                        sha256_list)
                progress['sent'] += self.data_block_num
                counter += 1
                if counter == self.data_block_num:
                    self._send_progress_notification(
                        self.context, backup, object_meta, progress['sent'],
                        volume_size_bytes)
                    counter = 0
        finally:
            timer.stop()
        if canceled:
            return
        self._send_progress_end(self.context, backup, object_meta)
        object_sha256['sha256s'] = sha256_list
        if backup_metadata:
            try:
                self._backup_metadata(backup, object_meta)
            except Exception:
                with excutils.save_and_reraise_exception():
                    LOG.exception("Backup volume metadata failed.")
                    self.delete_backup(backup)
        self._finalize_backup(backup, container, object_meta, object_sha256)

    def _incsnap_backup_run(self, backup, volume_file, container,
                            object_meta, extra_metadata, first, end, size,
                            parent_shas, sha256_list):
        """Read blocks [first, end), write the ones that changed."""
        block = self.sha_block_size_bytes
        offset = first * block
        data = _read_exactly(volume_file, offset,
                             min(end * block, size) - offset)
        shas = utils.tpool_wrap(self._calculate_sha)(data)
        sha256_list[first:end] = shas
        for i, j in plan.changed_runs(shas, parent_shas[first:end]):
            self._backup_chunk(backup, container, data[i * block:j * block],
                               offset + i * block, object_meta,
                               extra_metadata)
