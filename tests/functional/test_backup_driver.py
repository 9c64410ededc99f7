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
"""The differential backup driver against Cinder's own chunked code.

Real here: a qcow2 volume written by qemu-io, a persistent dirty bitmap
per backup (``qemu-img bitmap``), its dirty extents as QEMU reports them
(qemu-storage-daemon NBD export + ``nbdinfo --map``,
:mod:`tests.common.dirty_extents`), Cinder's posix backup driver and its
database (sqlite, Cinder's migrations), Cinder's restore code, Cinder's
notifier (oslo.messaging's in-memory ``test`` driver).

Stand-ins: the volume driver's raw view of each point in time is a
``qemu-img convert -O raw`` copy of the volume (the volume driver exports
a FUSE view; the bytes read are the same), and its manifest
``incsnap-backup.json`` is written by the test from the real bitmap, as
the contract of issue 12 describes it.
"""

import hashlib
import json
import os
import shutil
import tempfile
import uuid

import fixtures
from oslo_config import cfg
import testtools

from incsnap_driver.backup import plan
from tests.common import backups
from tests.common import commands
from tests.common import dirty_extents
from tests.functional import base

CONF = cfg.CONF
GiB = 1024 ** 3
MiB = 1024 ** 2
KiB = 1024
# Small chunks, so that a 1 GiB volume spans many windows and progress
# notifications; a multiple of the 32 KiB hash block.
CHUNK = 8 * MiB
BLOCK = 32 * KiB

# (offset, length, byte; None writes zeroes) at each point in time.
POINT_1 = [(0, 4 * MiB, 0x11), (100 * MiB, 3 * MiB, 0x22),
           (GiB - MiB, MiB, 0x33)]
POINT_2 = [(MiB + 4 * KiB, 8 * KiB, 0x44),       # inside one block
           (CHUNK - 16 * KiB, 32 * KiB, 0x55),   # across two windows
           (100 * MiB, MiB, None),               # data -> zeroes
           (2 * MiB, 64 * KiB, 0x11),            # rewritten, unchanged
           (500 * MiB, 5 * MiB, 0x66)]           # new data
POINT_3 = [(0, MiB, 0x77), (GiB - 4 * MiB, 4 * MiB, 0x88),
           (600 * MiB + 1, 3, 0x99)]             # unaligned, 3 bytes


class BackupDriverTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(
            int(os.environ.get('OS_TEST_TIMEOUT', 600)), gentle=True))
        state = base.setup_process()
        backups.init_notifier()
        from oslo_messaging.notify import _impl_test
        self.notifications = _impl_test
        from cinder.backup.drivers import posix  # noqa: F401  options
        from cinder import context
        from cinder import objects
        CONF.set_override('backup_file_size', CHUNK)
        self.addCleanup(CONF.clear_override, 'backup_file_size')
        self.ctx = context.get_admin_context()
        self.dir = tempfile.mkdtemp(dir=state['root'], prefix='backup-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.volume = objects.Volume(
            context=self.ctx, size=1, status='available',
            attach_status='detached', host='incsnap-test@backup',
            availability_zone='nova', project_id='p', user_id='u')
        self.volume.create()
        self.qcow2 = os.path.join(self.dir, 'volume-%s' % self.volume.id)
        commands.run('qemu-img', 'create', '-q', '-f', 'qcow2', '-o',
                     'compat=1.1', self.qcow2, str(GiB))
        self.points = 0

    # -- helpers ----------------------------------------------------------

    def driver(self, cls=None):
        """A backup driver on a repository folder of its own."""
        from incsnap_driver.backup import posix
        cls = cls or posix.IncsnapPosixBackupDriver
        repo = tempfile.mkdtemp(dir=self.dir, prefix='repo-')
        return cls(self.ctx, backup_path=repo)

    def new_backup(self, parent=None):
        from cinder import objects
        backup = objects.Backup(
            context=self.ctx, volume_id=self.volume.id, user_id='u',
            project_id='p', host='testhost', availability_zone='nova',
            display_name='b', display_description='d', status='creating',
            size=1, parent_id=parent.id if parent else None,
            service='incsnap_driver.backup.posix.IncsnapPosixBackupDriver',
            metadata={'owner': 'test'})
        backup.create()
        return backup

    def write(self, writes):
        commands_ = []
        for offset, length, byte in writes:
            if byte is None:
                commands_ += ['-c', 'write -z %d %d' % (offset, length)]
            else:
                commands_ += ['-c', 'write -P 0x%x %d %d'
                              % (byte, offset, length)]
        commands.run('qemu-io', '-f', 'qcow2', *commands_, self.qcow2)

    def bitmap(self, backup):
        return 'incsnap-backup-%s' % backup.id

    def view(self, backup, parent=None, **manifest):
        """The raw view of the volume now, and its manifest, for backup.

        Starts the backup's bitmap (the next incremental's base) and
        prunes the parent's, as the volume driver does.
        """
        self.points += 1
        folder = os.path.join(self.dir, 'view-%d' % self.points)
        os.makedirs(folder)
        path = os.path.join(folder, 'volume')
        commands.run('qemu-img', 'convert', '-O', 'raw', self.qcow2, path)
        doc = {'format': 1, 'volume_id': self.volume.id,
               'backup_id': backup.id,
               'parent_backup_id': parent.id if parent else None,
               'size': GiB, 'granularity': 65536, 'extents': None,
               'reason': 'first backup'}
        if parent:
            doc['extents'] = dirty_extents.bitmap_extents(
                self.qcow2, self.bitmap(parent))
            doc['reason'] = None
        doc.update(manifest)
        with open(os.path.join(folder, plan.MANIFEST_NAME), 'w') as f:
            json.dump(doc, f)
        commands.run('qemu-img', 'bitmap', '--add', self.qcow2,
                     self.bitmap(backup))
        if parent:
            commands.run('qemu-img', 'bitmap', '--remove', self.qcow2,
                         self.bitmap(parent))
        return path, doc

    def run_backup(self, driver, backup, path):
        """driver.backup() as cinder-backup calls it; the bytes read."""
        from cinder import utils
        with open(path, 'rb') as f:
            counting = backups.CountingFile(f)
            driver.backup(backup, utils.tpool_wrap(counting))
        backup.status = 'available'
        backup.save()
        return counting.bytes_read

    def restore(self, driver, backup, target, new=True):
        backup.status = 'restoring'
        backup.save()
        if new:
            with open(target, 'wb') as f:
                f.truncate(GiB)
        with open(target, 'r+b') as f:
            driver.restore(backup, self.volume.id, f, new)
        backup.status = 'available'
        backup.save()

    def layout(self, driver, backup):
        """The objects (offset, length, md5) and hashes of a backup."""
        metadata = driver._read_metadata(backup)
        objects_ = [(o['offset'], o['length'], o['md5'], o['compression'])
                    for entry in metadata['objects']
                    for o in entry.values()]
        shafile = driver._read_sha256file(backup)
        return objects_, shafile['chunk_size'], shafile['sha256s']

    def recorded(self, backup):
        from cinder import objects
        metadata = objects.Backup.get_by_id(self.ctx, backup.id).metadata
        self.assertEqual('test', metadata['owner'])
        return metadata[plan.MODE_KEY], metadata[plan.REASON_KEY]

    def progress(self, backup_id):
        """The backup_percent of each progress notification of a backup."""
        return [message['payload']['backup_percent']
                for _ctx, message, _prio, _retry
                in self.notifications.NOTIFICATIONS
                if message['event_type'] == 'backup.createprogress' and
                message['payload']['backup_id'] == backup_id]

    @staticmethod
    def blocks_read(extents):
        return sum((end - first) * BLOCK
                   for first, end in plan.block_runs(extents, BLOCK, GiB))

    def assertSameBytes(self, path, reference):
        commands.run('qemu-img', 'compare', '-q', '-f', 'raw', '-F', 'raw',
                     path, reference)

    # -- tests ------------------------------------------------------------

    def test_chain_restores_and_matches_the_stock_driver(self):
        # Both drivers on one repository: the stock driver's increments
        # take our full backup (the stock code path) as their base.
        ours = self.driver()
        from cinder.backup.drivers import posix
        stock = posix.PosixBackupDriver(self.ctx,
                                        backup_path=ours.backup_path)
        views, backups = [], []
        parent = stock_parent = None
        for writes in (POINT_1, POINT_2, POINT_3):
            self.write(writes)
            backup = self.new_backup(parent)
            path, doc = self.view(backup, parent)
            read = self.run_backup(ours, backup, path)
            mode, reason = self.recorded(backup)
            views.append(path)
            backups.append(backup)
            if parent is None:
                self.assertEqual((plan.FULL, GiB), (mode, read))
                parent = stock_parent = backup
                continue
            # Only the hash blocks the bitmap's extents touch.
            self.assertEqual(plan.DIFFERENTIAL, mode, reason)
            self.assertIn('since backup %s' % parent.id, reason)
            self.assertEqual(self.blocks_read(doc['extents']), read)
            self.assertLessEqual(read, GiB // 100)
            self.assertGreater(read, 0)
            # What the stock driver writes for the same data: the same
            # objects, the same hash of every block, the same progress.
            stock_backup = self.new_backup(stock_parent)
            self.assertEqual(GiB, self.run_backup(stock, stock_backup, path))
            self.assertEqual(self.layout(stock, stock_backup),
                             self.layout(ours, backup))
            self.assertEqual(self.progress(stock_backup.id),
                             self.progress(backup.id))
            self.assertNotEqual([], self.progress(backup.id))
            parent, stock_parent = backup, stock_backup

        # The rewritten-but-unchanged range was dirty, yet not shipped;
        # the range zeroed was.
        objects_, _, _ = self.layout(ours, backups[1])
        self.assertFalse(any(o[0] <= 2 * MiB < o[0] + o[1]
                             for o in objects_))
        self.assertTrue(any(o[0] <= 100 * MiB < o[0] + o[1]
                            for o in objects_))

        # Cinder's restore (the full, then each increment) gives each
        # point in time byte for byte: into a new volume, then onto that
        # volume holding the previous point (the original volume's case:
        # zeroes are written too). The last one by the stock driver: the
        # backups are Cinder's format.
        target = os.path.join(self.dir, 'restored')
        for n, (backup, view) in enumerate(zip(backups, views)):
            self.restore(stock if n == 2 else ours, backup, target,
                         new=(n == 0))
            self.assertSameBytes(target, view)

    def test_fallbacks_read_and_hash_and_record_why(self):
        ours = self.driver()
        self.write(POINT_1)
        full = self.new_backup()
        self.run_backup(ours, full, self.view(full)[0])
        self.write(POINT_2)
        reference = self.new_backup(full)
        path, doc = self.view(reference, full)
        self.run_backup(ours, reference, path)
        self.assertEqual(plan.DIFFERENTIAL, self.recorded(reference)[0])
        expected = self.layout(ours, reference)
        manifest = os.path.join(os.path.dirname(path), plan.MANIFEST_NAME)
        other = str(uuid.uuid4())

        cases = [
            ('no manifest', None, 'no incsnap-backup.json next to'),
            ('not JSON', '{"format": 1, "extents": [[0,',
             'invalid incsnap-backup.json: not JSON'),
            ('unknown format', dict(doc, format=2),
             'invalid incsnap-backup.json: format 2 unknown'),
            ('parent mismatch', dict(doc, parent_backup_id=other),
             'relative to %s, not to the parent backup %s'
             % (other, full.id)),
            ('size changed', dict(doc, size=2 * GiB),
             'manifest size %d differs from the volume size %d'
             % (2 * GiB, GiB)),
            ('extents null', dict(doc, extents=None,
                                  reason='volume resized'),
             'no extents: volume resized'),
        ]
        for name, content, words in cases:
            backup = self.new_backup(full)
            if content is None:
                os.unlink(manifest)
            else:
                if isinstance(content, dict):
                    content = json.dumps(dict(content, backup_id=backup.id))
                with open(manifest, 'w') as f:
                    f.write(content)
            read = self.run_backup(ours, backup, path)
            mode, reason = self.recorded(backup)
            self.assertEqual(plan.READ_AND_HASH, mode, name)
            self.assertIn(words, reason, name)
            # The stock path ran: it read everything, and wrote what the
            # differential read wrote.
            self.assertEqual(GiB, read, name)
            self.assertEqual(expected, self.layout(ours, backup), name)

        # A manifest left from another backup is not this backup's.
        with open(manifest, 'w') as f:
            json.dump(doc, f)
        backup = self.new_backup(full)
        self.assertEqual(GiB, self.run_backup(ours, backup, path))
        mode, reason = self.recorded(backup)
        self.assertEqual(plan.READ_AND_HASH, mode)
        self.assertIn('manifest is for backup %s' % reference.id, reason)

    def test_nfs_backup_driver_on_a_bind_mounted_share(self):
        # Cinder's NFS backup driver mounts backup_share through os-brick,
        # which finds a bind mount at <backup_mount_point_base>/<md5 of
        # the share> already mounted (no NFS client in these kernels).
        from incsnap_driver.backup import nfs
        share = '127.0.0.1:/srv/backup-%s' % uuid.uuid4().hex[:8]
        mount_base = os.path.join(self.dir, 'mnt')
        export = os.path.join(self.dir, 'export')
        mount_point = os.path.join(mount_base,
                                   hashlib.md5(share.encode()).hexdigest())
        os.makedirs(export, mode=0o775)
        os.makedirs(mount_point)
        commands.run('mount', '--bind', export, mount_point)
        self.addCleanup(commands.run, 'umount', mount_point, check=False)
        for key, value in (('backup_share', share),
                           ('backup_mount_point_base', mount_base)):
            CONF.set_override(key, value)
            self.addCleanup(CONF.clear_override, key)
        driver = nfs.IncsnapNFSBackupDriver(self.ctx)
        self.assertEqual(mount_point, driver.backup_path)

        self.write(POINT_1)
        full = self.new_backup()
        self.run_backup(driver, full, self.view(full)[0])
        self.write(POINT_2)
        backup = self.new_backup(full)
        path, doc = self.view(backup, full)
        read = self.run_backup(driver, backup, path)
        self.assertEqual(plan.DIFFERENTIAL, self.recorded(backup)[0])
        self.assertEqual(self.blocks_read(doc['extents']), read)
        self.assertTrue(os.listdir(export))
        target = os.path.join(self.dir, 'restored')
        self.restore(driver, backup, target)
        self.assertSameBytes(target, path)
