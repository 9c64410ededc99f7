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
"""Backups through cinder-backup, and CloudStack's secondary-storage rows.

The stack's cinder-backup (tools/aio.d/cinder-backup.sh: Cinder's NFS
backup driver on a bind-mounted share) backs up this driver's volumes
through the raw views the driver exports. Every restore is compared byte
for byte (``qemu-img compare``) with a raw model of the guest-visible
disk at backup time; one restore goes into a raw volume of the stack's
``nfs`` backend (Cinder's stock NfsDriver), which shows the backup holds
the guest's data, not qcow2. The manifest each backup's view carried
(``incsnap-backup.json``) is read from cinder-volume's log, where the
driver records it.

The table (CloudStack ran its snapshot table again with snapshots on
secondary storage), rows in ``test_backup_table``:

1. snapshots, then copies on secondary storage -> snapshots, then
   backups: full, incremental (extents exactly what was written), from
   a snapshot;
2. restore from secondary storage -> restore onto the original, into a
   new volume, into a raw volume of the ``nfs`` backend;
3. migrate volume with snapshots: error -> ``openstack volume migrate``
   refused (400), nothing changed;
4. volume-only migration, then incremental -> a volume without
   snapshots moved to the other pool keeps its backup bitmap: the next
   backup's extents are only the new writes.
"""

import json
import os
import uuid

from tests.common import domains
from tests.common import guest_writes
from tests.common import images
from tests.common import stack
from tests.e2e import base

MiB = base.MiB
MIGSTAT = base.MIGSTAT


class TestBackups(base.PoolsMixin, base.E2ETestCase):

    # --- helpers ------------------------------------------------------------

    def backup(self, vid, *extra):
        """Create a backup, wait until available; its id."""
        backup = self.openstack('volume', 'backup', 'create', *extra,
                                '--name', self.unique_name('bak'), vid)
        self.addCleanup(self._cleanup, 'volume backup', backup['id'])
        seen = self.wait_status('volume backup', backup['id'], 'available')
        self.assertNotIn('error', seen)
        return backup['id']

    def manifest(self, backup_id):
        """The manifest the driver exported with the backup's view."""
        lines = base.STACK.wait_log('cinder-volume',
                                    'Backup %s manifest: ' % backup_id)
        return json.loads(lines[-1].split(' manifest: ', 1)[1])

    def backup_mode(self, backup_id):
        """How the backup driver took it (its metadata, API 3.43)."""
        shown = self.openstack('--os-volume-api-version', '3.43',
                               'volume', 'backup', 'show', backup_id)
        meta = shown.get('metadata') or {}
        return meta.get('incsnap_backup_mode'), meta.get(
            'incsnap_backup_reason')

    def restore(self, backup_id, target):
        """Restore onto the existing volume ``target``, wait for both."""
        self.openstack('volume', 'backup', 'restore', '--force', backup_id,
                       target, parse=False)
        self.wait_status('volume backup', backup_id, 'available')
        self.wait_status('volume', target, 'available')

    def nfs_volume_path(self, vid):
        return os.path.join(base.STACK.aio_dir, 'export-nfs',
                            'volume-%s' % vid)

    def no_views_left(self, *ids):
        """No raw view folder or mount of these volumes/snapshots left.

        (Only theirs: Tempest may back up its own volumes meanwhile.)
        """
        root = os.path.join(base.STACK.aio_dir, 'mnt', 'incsnap-views')
        left = os.listdir(root) if os.path.isdir(root) else []
        with open('/proc/mounts') as f:
            mounts = f.read()
        for ident in ids:
            self.assertEqual([], [n for n in left if ident in n])
            self.assertNotIn(ident + '/disk', mounts)

    # --- the table --------------------------------------------------------

    def test_backup_table(self):
        vid = self.create_volume(size_gb=1)['id']
        self.wait_status('volume', vid, 'available')
        model = self.new_model(vid)
        self.offline_write(vid, 0, 4 * MiB, 0xa1, model)
        self.offline_write(vid, 100 * MiB, 1 * MiB, 0xa2, model)
        ref_full = self.model_copy(model, 'full')

        # Row 1: a full backup, then an incremental of exactly the writes.
        b_full = self.backup(vid)
        doc = self.manifest(b_full)
        self.assertIsNone(doc['extents'])
        self.assertIn('no parent backup', doc['reason'])
        self.assertEqual(vid, doc['volume_id'])
        self.assertEqual(base.GiB, doc['size'])
        self.no_views_left(vid)

        self.offline_write(vid, 200 * MiB, 2 * MiB, 0xb1, model)
        self.offline_write(vid, 513 * MiB, 64 * 1024, 0xb2, model)
        ref_inc = self.model_copy(model, 'inc')
        b_inc = self.backup(vid, '--incremental')
        doc = self.manifest(b_inc)
        self.assertEqual(b_full, doc['parent_backup_id'])
        self.assertEqual(b_inc, doc['backup_id'])
        self.assertEqual([[200 * MiB, 2 * MiB], [513 * MiB, 64 * 1024]],
                         doc['extents'])
        self.assertIsNone(doc['reason'])
        # The stack's backup driver is the project's differential one: it
        # read only those extents (README "Backups that read only what
        # changed"); the stock path would record read-and-hash.
        self.assertEqual('differential', self.backup_mode(b_inc)[0])

        # Row 4: without snapshots the volume moves to the other pool,
        # and its next backup stays incremental: only the new writes.
        before = self.host_of(vid)
        self.openstack('volume', 'migrate', '--host',
                       self.other_pool(before), vid, parse=False)
        self.assertEqual('success', self.wait_migrated(vid)[MIGSTAT])
        self.assertNotEqual(before, self.host_of(vid))
        self.offline_write(vid, 700 * MiB, 1 * MiB, 0xd1, model)
        b_moved = self.backup(vid, '--incremental')
        doc = self.manifest(b_moved)
        self.assertEqual(b_inc, doc['parent_backup_id'])
        self.assertEqual([[700 * MiB, 1 * MiB]], doc['extents'])
        self.assertEqual('differential', self.backup_mode(b_moved)[0])

        # Row 1 again: a snapshot, then a backup of it while the volume
        # moves on.
        self.offline_write(vid, 300 * MiB, 1 * MiB, 0xc1, model)
        ref_snap = self.model_copy(model, 'snap')
        sid = self.snapshot_ok(vid)
        self.offline_write(vid, 0, 8 * MiB, 0xee, model)
        b_snap = self.backup(vid, '--incremental', '--snapshot', sid)
        doc = self.manifest(b_snap)
        self.assertEqual(b_moved, doc['parent_backup_id'])
        self.assertIsNone(doc['extents'])
        self.assertIn('backup from a snapshot', doc['reason'])
        mode, reason = self.backup_mode(b_snap)
        self.assertEqual('read-and-hash', mode)
        self.assertIn('backup from a snapshot', reason)
        self.no_views_left(vid, sid)

        # Row 3: migrating a volume with snapshots is refused, no change.
        here = self.host_of(vid)
        files = sorted(self.files_named(vid))
        exc = self.assertRaises(
            base.CommandFailed, self.openstack, 'volume', 'migrate',
            '--host', self.other_pool(here), vid, parse=False)
        self.assertIn('400', exc.proc.stderr)
        self.assertIn('have snapshots', exc.proc.stderr)
        self.assertEqual(here, self.host_of(vid))
        self.assertEqual(files, sorted(self.files_named(vid)))
        images.assert_same_content(self.volume_path(vid), model,
                                   'qcow2', 'raw')

        # Row 2: restores, each byte-identical to the disk at backup time:
        # onto the original, into a new volume, into a raw volume of the
        # stock NFS driver.
        self.restore(b_inc, vid)
        images.assert_same_content(self.volume_path(vid), ref_inc,
                                   'qcow2', 'raw')
        self.assertEqual('qcow2', self.qemu_img_info(
            self.volume_path(vid))['format'])
        restored = self.openstack('volume', 'backup', 'restore', b_full,
                                  self.unique_name('restored'))
        self.addCleanup(self._cleanup, 'volume', restored['volume_id'])
        self.wait_status('volume backup', b_full, 'available')
        self.wait_status('volume', restored['volume_id'], 'available')
        images.assert_same_content(self.volume_path(restored['volume_id']),
                                   ref_full, 'qcow2', 'raw')
        raw_vid = self.create_volume(size_gb=1, type='nfs')['id']
        self.wait_status('volume', raw_vid, 'available')
        self.restore(b_snap, raw_vid)
        self.assertEqual('raw', self.qemu_img_info(
            self.nfs_volume_path(raw_vid))['format'])
        images.assert_same_content(self.nfs_volume_path(raw_vid), ref_snap,
                                   'raw', 'raw')
        self.no_views_left(vid, sid, raw_vid, restored['volume_id'])

    def test_in_use_backup_through_a_temporary_snapshot(self):
        """``backup create --force`` of a volume a running VM writes.

        Cinder backs up a temporary snapshot of this driver (a libvirt
        backup job: consistent), then deletes it; the restore holds the
        guest's disk at that point, later guest writes not.
        """
        self.require_libvirt_access()
        vid = self.create_volume(size_gb=1)['id']
        self.wait_status('volume', vid, 'available')
        model = self.new_model(vid)
        iid = str(uuid.uuid4())
        _att, conn_info = self.attach(vid, iid)
        hosts = self.compute_hosts()
        doms = domains.Domains(
            self.addCleanup, 'incsnap-e2e-bak',
            **({'uri': hosts.uri('compute1')} if hosts else {}))
        path = (self.compute_path(conn_info['name']) if hosts
                else stack.nfs_disk_path(conn_info))
        guest = doms.start([domains.Disk(path, cache='none')], iid)
        guest_writes.guest_write(guest, 0, 4 * MiB, 0xe1)
        model.write(0, 4 * MiB, 0xe1)
        guest_writes.guest_write(guest, 64 * MiB, 1 * MiB, 0xe2)
        model.write(64 * MiB, 1 * MiB, 0xe2)
        at_backup = self.model_copy(model, 'in-use')

        b_id = self.backup(vid, '--force')
        doc = self.manifest(b_id)
        self.assertIsNone(doc['extents'])
        self.assertIn('in-use volume', doc['reason'])
        self.assertEqual('in-use', self.openstack(
            'volume', 'show', vid)['status'])
        # The temporary snapshot is gone again.
        self.assertEqual([], self.openstack('volume', 'snapshot', 'list',
                                            '--volume', vid))
        guest_writes.guest_write(guest, 0, 1 * MiB, 0xe3)

        restored = self.openstack('volume', 'backup', 'restore', b_id,
                                  self.unique_name('restored'))
        self.addCleanup(self._cleanup, 'volume', restored['volume_id'])
        self.wait_status('volume backup', b_id, 'available')
        self.wait_status('volume', restored['volume_id'], 'available')
        images.assert_same_content(self.volume_path(restored['volume_id']),
                                   at_backup, 'qcow2', 'raw')
        self.no_views_left(vid, restored['volume_id'])
