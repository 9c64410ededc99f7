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
"""Both halves of a differential backup chain, in one process.

The volume driver as Cinder's backup manager drives it (the backup
record ``creating``, the volume ``backing-up``, ``initialize_connection``
→ the raw FUSE view and its manifest, ``terminate_connection``), and the
project's posix backup driver reading that view through Cinder's
``tpool`` proxy, as the backup manager hands it over. Real
qemu-storage-daemon exports and images; only the backup service's RPC
and scheduling are left out. Each incremental must read exactly the bytes
written since its parent, and every restore (Cinder's own restore code)
must give the guest-visible disk of its point in time, byte for byte.
"""

import os
import tempfile

from cinder import objects
from cinder import utils

from incsnap_driver.backup import plan
from incsnap_driver.backup import posix
from tests.common import backups
from tests.common import images
from tests.functional import base

MiB = base.MiB


class TestDifferentialChain(base.FunctionalTestCase):

    def take(self, drv, volume, parent=None):
        """(backup, raw reference, bytes read, metadata) of one backup."""
        backup = objects.Backup(
            context=self.ctx, volume_id=volume.id, status='creating',
            size=volume.size, project_id=volume.project_id, user_id='u',
            parent_id=parent.id if parent else None)
        backup.create()
        volume.status = 'backing-up'
        volume.save()
        ref = os.path.join(self.ref_dir, backup.id)
        base.sh('qemu-img', 'convert', '-U', '-O', 'raw',
                self.volume_path(volume), ref)
        conn = self.driver.initialize_connection(volume, {})
        try:
            with open(conn['data']['device_path'], 'rb') as f:
                counting = backups.CountingFile(f)
                drv.backup(backup, utils.tpool_wrap(counting))
        finally:
            self.driver.terminate_connection(volume, {})
        volume.status = 'available'
        volume.save()
        backup.status = 'available'
        backup.save()
        shown = objects.Backup.get_by_id(self.ctx, backup.id)
        return backup, ref, counting.bytes_read, shown.metadata

    def test_full_then_differential_then_restores(self):
        # The in-memory notifier, as test_backup_driver (once a process:
        # whoever runs first in a test worker sets it for all).
        backups.init_notifier()
        drv = posix.IncsnapPosixBackupDriver(
            self.ctx, backup_path=tempfile.mkdtemp(dir=self.ref_dir))
        volume = self.create_volume(size=1)
        self.write(volume, 0, 4 * MiB, 0xa1)
        b1, r1, _n1, m1 = self.take(drv, volume)
        self.assertEqual('full', m1[plan.MODE_KEY], m1)

        self.write(volume, 100 * MiB, 1 * MiB, 0xb2)
        b2, r2, n2, m2 = self.take(drv, volume, b1)
        self.assertEqual('differential', m2[plan.MODE_KEY], m2)
        self.assertEqual(MiB, n2)

        self.write(volume, 200 * MiB, 64 * 1024, 0xc3)
        b3, r3, n3, m3 = self.take(drv, volume, b2)
        self.assertEqual('differential', m3[plan.MODE_KEY], m3)
        self.assertEqual(64 * 1024, n3)

        target = os.path.join(self.ref_dir, 'restored')
        for backup, ref in ((b1, r1), (b2, r2), (b3, r3)):
            with open(target, 'wb') as f:
                f.truncate(volume.size * base.GiB)
            backup.status = 'restoring'
            backup.save()
            with open(target, 'r+b') as f:
                drv.restore(backup, volume.id, f, True)
            backup.status = 'available'
            backup.save()
            images.assert_same_content(target, ref, 'raw', 'raw')
