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
"""Raw views for cinder-backup: the driver's side of it (Cinder glue).

Cinder's backup manager attaches a volume (``backing-up``,
``restoring-backup``) or a snapshot to read or write it; these
connections hand it a raw view of the qcow2 instead (README "Backups").
The decisions are :mod:`incsnap_driver.ops.backup_point`, the views and
manifests :mod:`incsnap_driver.ops.backup`. Mixed into the driver before
Cinder's NFS driver, whose connections it falls back to.
"""

from cinder import context as cinder_context
from cinder import exception
from cinder import objects

from incsnap_driver import cinder_errors
from incsnap_driver.ops import backup as backup_op
from incsnap_driver.ops import backup_point
from incsnap_driver.ops import volume as volume_op
from incsnap_driver import volume_lock

_cinder_errors = cinder_errors.as_cinder_exceptions
_locked = volume_lock.synchronized


class BackupViews:
    """Connections for cinder-backup, temporary snapshots for in-use."""

    def backup_use_temp_snapshot(self):
        """In-use volumes are backed up from a temporary snapshot of ours.

        It is consistent (a libvirt backup job while the VM runs) and
        cheap (incremental); Cinder's other way, a temporary clone, copies
        the whole volume.
        """
        return True

    @staticmethod
    def _backup_of(volume_id, project_id, match):
        """The backup being created of volume ``volume_id`` (or None)."""
        ctxt = cinder_context.get_admin_context()
        found = objects.BackupList.get_all_by_volume(
            ctxt, volume_id, project_id, filters={'status': 'creating'})
        for backup in found:
            if match(backup):
                return backup
        return None

    @staticmethod
    def _request(backup, volume, source):
        parent_size = None
        if backup.parent_id:
            ctxt = cinder_context.get_admin_context()
            try:
                parent_size = objects.Backup.get_by_id(
                    ctxt, backup.parent_id).size
            except exception.BackupNotFound:
                parent_size = None
        return backup_point.Request(
            volume_id=volume.id, backup_id=backup.id,
            parent_id=backup.parent_id, size_gb=volume.size,
            parent_size_gb=parent_size, source=source)

    @staticmethod
    def _local_connection(path):
        return {'driver_volume_type': 'local',
                'data': {'device_path': path}}

    # -- connections (and the raw views of cinder-backup) ------------------

    @_locked('{self.driver_prefix}-{volume.id}')
    def initialize_connection(self, volume, connector):
        """A raw view for cinder-backup; else the NFS driver's connection.

        A volume ``backing-up`` (a detached volume: in-use ones go through
        a temporary snapshot) gets a read-only raw view and the manifest
        of its backup; one ``restoring-backup`` a writable raw view. The
        NFS connection info reads the file's format and size: under the
        lock too, not while another node replaces the file (a revert, a
        move).
        """
        purpose = backup_point.purpose_of(volume.status)
        if purpose is None:
            return super().initialize_connection(volume, connector)
        return self._local_connection(self._open_volume_view(volume,
                                                             purpose))

    @_cinder_errors
    def _open_volume_view(self, volume, purpose):
        # (under the volume's lock: initialize_connection)
        files = volume_op.VolumeFiles.checked(volume.id,
                                              self.local_path(volume))
        manifest = None
        if purpose == backup_point.BACKUP:
            backup = self._backup_of(
                volume.id, volume.project_id,
                lambda b: not b.snapshot_id and not b.temp_snapshot_id)
            if backup is not None:
                manifest = backup_op.prepare_point(
                    self.backend, files.path,
                    self._request(backup, volume, 'volume'))
        return backup_op.open_view(
            self.backend, self.views_root, backup_op.VOLUME, volume.id,
            files.path, writable=purpose == backup_point.RESTORE,
            manifest=manifest)

    @_locked('{self.driver_prefix}-{volume.id}')
    def terminate_connection(self, volume, connector, **kwargs):
        """Close the volume's raw view if it has one.

        Locked so that it orders with the rest.
        """
        if self._has_view(backup_op.VOLUME, volume.id):
            self._close_view(backup_op.VOLUME, volume.id)
        return super().terminate_connection(volume, connector, **kwargs)

    def _has_view(self, kind, obj_id):
        return bool(self.views_root) and backup_op.has_view(
            self.views_root, kind, obj_id)

    @_cinder_errors
    def _close_view(self, kind, obj_id):
        # (under the lock of the volume it shows)
        backup_op.close_view(self.backend, self.views_root, kind, obj_id)

    def initialize_connection_snapshot(self, snapshot, connector, **kwargs):
        """A read-only raw view of the snapshot, for cinder-backup.

        Only the backup manager attaches snapshots: a ``--snapshot``
        backup, or the temporary snapshot of an in-use volume.
        """
        return self._local_connection(self._open_snapshot_view(snapshot))

    @_cinder_errors
    @_locked('{self.driver_prefix}-{snapshot.volume.id}')
    def _open_snapshot_view(self, snapshot):
        volume = snapshot.volume
        source = self._open(volume)
        record = source.live_snapshot(snapshot.id)
        backup = self._backup_of(
            volume.id, volume.project_id,
            lambda b: snapshot.id in (b.snapshot_id, b.temp_snapshot_id))
        manifest = None
        if backup is not None:
            kind = ('snapshot' if backup.snapshot_id == snapshot.id
                    else 'temp_snapshot')
            manifest = backup_op.prepare_point(
                self.backend, source.files.path,
                self._request(backup, volume, kind))
        return backup_op.open_view(
            self.backend, self.views_root, backup_op.SNAPSHOT, snapshot.id,
            source.files.in_folder(record.file), writable=False,
            manifest=manifest)

    @_locked('{self.driver_prefix}-{snapshot.volume.id}')
    def terminate_connection_snapshot(self, snapshot, connector, **kwargs):
        if self._has_view(backup_op.SNAPSHOT, snapshot.id):
            self._close_view(backup_op.SNAPSHOT, snapshot.id)
