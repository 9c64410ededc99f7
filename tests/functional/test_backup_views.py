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
"""Raw views for cinder-backup, their manifest and the backup bitmaps.

The driver as Cinder's backup manager drives it: a backup record
``creating``, the volume ``backing-up`` (or ``restoring-backup``), then
``initialize_connection`` / ``terminate_connection`` (and the snapshot
variants). Real qemu-storage-daemon FUSE exports, real images; the views
are compared byte for byte with ``qemu-img convert -O raw``.
"""

import json
import os
import signal

from incsnap_driver.ops import backup as backup_op
from incsnap_driver.ops import backup_point
from tests.common import images
from tests.functional import base

MiB = base.MiB


class TestBackupViews(base.FunctionalTestCase):

    def new_backup(self, volume, parent=None, snapshot=None):
        from cinder import objects
        backup = objects.Backup(
            context=self.ctx, volume_id=volume.id, status='creating',
            size=volume.size, project_id=volume.project_id, user_id='u',
            parent_id=parent.id if parent else None,
            snapshot_id=snapshot.id if snapshot else None)
        backup.create()
        return backup

    def done(self, backup):
        backup.status = 'available'
        backup.save()

    def set_status(self, volume, status):
        volume.status = status
        volume.save()

    def open_view(self, volume):
        conn = self.driver.initialize_connection(volume, {})
        self.assertEqual('local', conn['driver_volume_type'])
        path = conn['data']['device_path']
        self.addCleanup(self._close_quietly, volume)
        return path

    def _close_quietly(self, volume):
        try:
            self.driver.terminate_connection(volume, {})
        except Exception:
            pass

    def _close_snapshot_quietly(self, snap):
        try:
            self.driver.terminate_connection_snapshot(snap, {})
        except Exception:
            pass

    def manifest(self, view):
        with open(os.path.join(os.path.dirname(os.path.realpath(view)),
                               backup_point.MANIFEST)) as f:
            return json.load(f)

    def raw_reference(self, path, label):
        out = os.path.join(self.ref_dir, label + '.raw')
        base.sh('qemu-img', 'convert', '-U', '-O', 'raw', path, out)
        return out

    def views_left(self):
        root = self.driver.views_root
        return os.listdir(root) if os.path.isdir(root) else []

    def assertNoViews(self):
        self.assertEqual([], self.views_left())
        with open('/proc/mounts') as f:
            self.assertNotIn(self.driver.views_root, f.read())

    def backup_once(self, volume, parent=None):
        """A backup as cinder-backup takes it: (backup, manifest, raw)."""
        backup = self.new_backup(volume, parent)
        self.set_status(volume, 'backing-up')
        view = self.open_view(volume)
        doc = self.manifest(view)
        ref = self.raw_reference(self.volume_path(volume), backup.id)
        images.assert_same_content(view, ref, 'raw', 'raw')
        with open(view, 'rb') as f:
            self.assertEqual(b'\xa1' * 4096, f.read(4096))
        self.driver.terminate_connection(volume, {})
        self.set_status(volume, 'available')
        self.done(backup)
        self.assertNoViews()
        return backup, doc

    def test_volume_view_manifest_and_bitmaps(self):
        volume = self.create_volume(size=1)
        self.write(volume, 0, 4 * MiB, 0xa1)
        snap = self.create_snapshot(volume)
        snap_bitmap = 'incsnap-%s' % snap.id

        first, doc = self.backup_once(volume)
        self.assertIsNone(doc['extents'])
        self.assertIn('no parent backup', doc['reason'])
        self.assertEqual(base.GiB, doc['size'])
        self.assertEqual(65536, doc['granularity'])
        self.assertEqual(sorted([snap_bitmap,
                                 backup_point.bitmap_name(first.id)]),
                         sorted(self.bitmap_names(volume)))

        self.write(volume, 64 * MiB, 1 * MiB, 0xb1)
        self.write(volume, 300 * MiB + 65536, 4096, 0xb2)
        second, doc = self.backup_once(volume, parent=first)
        self.assertEqual(first.id, doc['parent_backup_id'])
        self.assertEqual(second.id, doc['backup_id'])
        # Exactly the writes, at the bitmap's granularity (64 KiB).
        self.assertEqual([[64 * MiB, 1 * MiB], [300 * MiB + 65536, 65536]],
                         doc['extents'])
        # The parent's bitmap is kept (this backup could have failed).
        self.assertEqual(sorted([snap_bitmap,
                                 backup_point.bitmap_name(first.id),
                                 backup_point.bitmap_name(second.id)]),
                         sorted(self.bitmap_names(volume)))

        self.write(volume, 128 * MiB, 65536, 0xc1)
        third, doc = self.backup_once(volume, parent=second)
        self.assertEqual([[128 * MiB, 65536]], doc['extents'])
        # The first backup's bitmap is gone, the snapshot's untouched.
        self.assertEqual(sorted([snap_bitmap,
                                 backup_point.bitmap_name(second.id),
                                 backup_point.bitmap_name(third.id)]),
                         sorted(self.bitmap_names(volume)))

        # A snapshot still goes incremental: its bitmap was left alone.
        snap2 = self.create_snapshot(volume)
        self.assertEqual('incremental', snap2.metadata.get('incsnap:kind'))

    def test_missing_parent_bitmap_full_with_reason(self):
        volume = self.create_volume(size=1)
        self.write(volume, 0, 4 * MiB, 0xa1)
        first, _doc = self.backup_once(volume)
        base.sh('qemu-img', 'bitmap', '--remove', self.volume_path(volume),
                backup_point.bitmap_name(first.id))
        _second, doc = self.backup_once(volume, parent=first)
        self.assertIsNone(doc['extents'])
        self.assertEqual('no bitmap for parent backup %s' % first.id,
                         doc['reason'])

    def test_restore_view_is_writable(self):
        volume = self.create_volume(size=1)
        self.write(volume, 0, 4 * MiB, 0xa1)
        self.set_status(volume, 'restoring-backup')
        view = self.open_view(volume)
        # What Cinder's restore does: open(path, 'wb'), write raw bytes.
        with open(view, 'wb') as f:
            f.seek(2 * MiB)
            f.write(b'\x5a' * MiB)
        self.driver.terminate_connection(volume, {})
        self.set_status(volume, 'available')
        self.assertNoViews()
        info = self.image_info(self.volume_path(volume))
        self.assertEqual('qcow2', info['format'])
        self.assertEqual(base.GiB, info['virtual-size'])
        out = base.sh('qemu-io', '-f', 'qcow2', '-c',
                      'read -P 0xa1 0 2M', '-c', 'read -P 0x5a 2M 1M',
                      '-c', 'read -P 0xa1 3M 1M', self.volume_path(volume))
        self.assertNotIn('Pattern verification failed', out)

    def test_snapshot_view(self):
        volume = self.create_volume(size=1)
        self.write(volume, 0, 4 * MiB, 0xa1)
        self.create_snapshot(volume)
        self.write(volume, 8 * MiB, 1 * MiB, 0xb1)
        snap = self.create_snapshot(volume)  # incremental: a chain
        ref = self.raw_reference(self.snap_path(volume, snap), 'snap')
        self.write(volume, 8 * MiB, 1 * MiB, 0xee)
        snap.status = 'backing-up'
        snap.save()
        backup = self.new_backup(volume, snapshot=snap)
        conn = self.driver.initialize_connection_snapshot(snap, {})
        self.addCleanup(self._close_snapshot_quietly, snap)
        view = conn['data']['device_path']
        images.assert_same_content(view, ref, 'raw', 'raw')
        doc = self.manifest(view)
        self.assertEqual(backup.id, doc['backup_id'])
        self.assertIsNone(doc['extents'])
        self.assertIn('backup from a snapshot', doc['reason'])
        # Read-only: a write is refused (root opens it, the export says no).
        with open(view, 'r+b', buffering=0) as f:
            self.assertRaises(OSError, f.write, b'x' * 4096)
        images.assert_same_content(view, ref, 'raw', 'raw')
        self.driver.terminate_connection_snapshot(snap, {})
        self.assertNoViews()

    def test_in_use_volume_through_a_temporary_snapshot(self):
        # What Cinder's get_backup_device does for an in-use volume with
        # backup_use_temp_snapshot (always on here): back up a temporary
        # snapshot of the driver.
        self.assertTrue(self.driver.backup_use_temp_snapshot())
        volume = self.create_volume(size=1)
        self.write(volume, 0, 4 * MiB, 0xa1)
        snap = self.create_snapshot(volume)
        ref = self.raw_reference(self.snap_path(volume, snap), 'temp')
        backup = self.new_backup(volume)
        backup.temp_snapshot_id = snap.id
        backup.save()
        conn = self.driver.initialize_connection_snapshot(snap, {})
        self.addCleanup(self._close_snapshot_quietly, snap)
        view = conn['data']['device_path']
        images.assert_same_content(view, ref, 'raw', 'raw')
        doc = self.manifest(view)
        self.assertEqual(backup.id, doc['backup_id'])
        self.assertIsNone(doc['extents'])
        self.assertIn('in-use volume', doc['reason'])
        self.driver.terminate_connection_snapshot(snap, {})
        self.assertNoViews()

    def test_killed_view_daemon_cleaned_up(self):
        volume = self.create_volume(size=1)
        self.write(volume, 0, 4 * MiB, 0xa1)
        backup = self.new_backup(volume)
        self.set_status(volume, 'backing-up')
        view = self.open_view(volume)
        with open(os.path.join(os.path.dirname(view), 'daemon')) as f:
            workdir = f.read().strip()
        with open(os.path.join(workdir, 'qsd.pid')) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGKILL)
        # What the driver does at start-up after a killed service.
        backup_op.close_all(self.driver.backend, self.driver.views_root)
        self.assertNoViews()
        self.assertFalse(os.path.exists(workdir))
        # The next backup is still right (a read-only view never marks
        # the bitmaps in-use).
        self.set_status(volume, 'available')
        backup.status = 'error'
        backup.save()
        self.write(volume, 16 * MiB, 65536, 0xb1)
        _again, doc = self.backup_once(volume, parent=backup)
        self.assertEqual([[16 * MiB, 65536]], doc['extents'])
