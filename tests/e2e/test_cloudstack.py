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
"""CloudStack's incremental snapshot test table, through Cinder's API.

REFERENCE.md's table with snapshot_delta_max = 3 (the stack's setting):
a volume attached the way Nova does (attachments API, then a libvirt
domain whose UUID is the instance UUID), the guest's writes made through
the QEMU monitor and mirrored in a raw model; every snapshot file on the
share is compared byte for byte with the model at snapshot time.
"""

import os
import uuid

from tests.common import domains
from tests.common import guest_writes
from tests.common import stack
from tests.e2e import base

MiB = base.MiB


class TestCloudStackTable(base.E2ETestCase):

    def start_guest(self, iid, conn_info):
        """A fresh domain whose UUID is the instance's, on the volume.

        At the path Nova's NFS volume driver would use, cache none as Nova
        sets it; on compute1 when the stack reaches the compute hosts
        (the attachment names it), else on the machine's libvirtd.
        """
        hosts = self.compute_hosts()
        if not hasattr(self, 'domains'):
            self.domains = domains.Domains(
                self.addCleanup, 'incsnap-e2e',
                **({'uri': hosts.uri('compute1')} if hosts else {}))
        if hosts:
            path = self.compute_path(conn_info['name'])
        else:
            path = stack.nfs_disk_path(conn_info)
        self.assertTrue(os.path.exists(path), path)
        guest = self.domains.start([domains.Disk(path, cache='none')], iid)
        self.assertTrue(guest.is_active())
        return guest

    def write(self, guest, model, offset, length, byte):
        guest_writes.guest_write(guest, offset, length, byte)
        model.write(offset, length, byte)

    def snap(self, vid, model, label, kind, parent=None, depth=1,
             reason=None):
        """Snapshot (in-use) and check kind, lineage, content."""
        expected = self.model_copy(model, label)
        sid = self.snapshot_ok(vid, microversion=base.IN_USE_MICROVERSION)
        props = self.snapshot_props(sid)
        self.assertEqual(kind, props.get('incsnap:kind'), (label, props))
        self.assertEqual(str(depth), props.get('incsnap:chain_depth'),
                         (label, props))
        self.assertEqual(parent, props.get('incsnap:parent'),
                         (label, props))
        self.assertEqual(reason, props.get('incsnap:full_reason'),
                         (label, props))
        self.assertContent(self.snap_file(vid, sid), expected)
        return sid, expected

    def test_reference_table(self):
        self.require_libvirt_access()
        vid = self.create_volume(size_gb=1)['id']
        self.wait_status('volume', vid, 'available')
        model = self.new_model(vid)
        iid = str(uuid.uuid4())
        att, conn_info = self.attach(vid, iid)
        self.assertEqual('nfs', conn_info['driver_volume_type'])
        self.assertEqual('volume-%s' % vid, conn_info['name'])
        guest = self.start_guest(iid, conn_info)

        # 1: VM running, a file, snapshot 1: full.
        self.write(guest, model, 0, 4 * MiB, 0xa1)
        s1, m1 = self.snap(vid, model, 's1', 'full', reason='first')

        # 2: a second file, snapshot 2: incremental backed by 1, small.
        self.write(guest, model, 64 * MiB, 4 * MiB, 0xa2)
        s2, m2 = self.snap(vid, model, 's2', 'incremental', parent=s1,
                           depth=2)
        info = self.qemu_img_info(self.snap_file(vid, s2))
        self.assertEqual('snapshot-%s.qcow2' % s1, info['backing-filename'])
        own = self.allocated(self.snap_file(vid, s2))
        self.assertLess(own, 8 * MiB)   # the 4 MiB written, not 8 MiB
        self.assertGreaterEqual(own, 4 * MiB)

        # 3: stop the VM (volume stays attached), snapshot 3: incremental.
        self.write(guest, model, 96 * MiB, 1 * MiB, 0xa3)
        guest.destroy()
        self.assertFalse(guest.is_active())
        s3, m3 = self.snap(vid, model, 's3', 'incremental', parent=s2,
                           depth=3)

        # 4: start the VM, snapshot 4: full, the chain of 3 is complete.
        guest.start()
        self.write(guest, model, 128 * MiB, 2 * MiB, 0xa4)
        s4, m4 = self.snap(vid, model, 's4', 'full', reason='delta_max')

        # 5: "migrate": the domain goes, a fresh one with the same UUID
        # runs the volume (what a live migration leaves on the target):
        # incremental from 4.
        guest.destroy()
        guest = self.start_guest(iid, conn_info)
        self.write(guest, model, 192 * MiB, 2 * MiB, 0xa5)
        s5, m5 = self.snap(vid, model, 's5', 'incremental', parent=s4,
                           depth=2)
        for sid, expected in ((s1, m1), (s2, m2), (s3, m3), (s4, m4)):
            self.assertContent(self.snap_file(vid, sid), expected)

        # D1: delete 5, a leaf: gone from the API and from the share.
        self.delete_snapshot(s5)
        self.assertFalse(os.path.exists(self.snap_file(vid, s5)))
        # D2: delete 1: gone from the API, its file stays for 2 and 3.
        self.delete_snapshot(s1)
        self.assertTrue(os.path.exists(self.snap_file(vid, s1)))
        self.assertContent(self.snap_file(vid, s3), m3)
        # D3: delete 2 and 3: all three files go.
        self.delete_snapshot(s2)
        self.assertTrue(os.path.exists(self.snap_file(vid, s1)))
        self.assertTrue(os.path.exists(self.snap_file(vid, s2)))
        self.delete_snapshot(s3)
        for sid in (s1, s2, s3):
            self.assertFalse(os.path.exists(self.snap_file(vid, sid)), sid)
        self.assertContent(self.snap_file(vid, s4), m4)
        self.assertEqual([], self.leftovers(vid))

        # R: junk written, VM stopped, detached (Cinder reverts only
        # available volumes), revert to 4, the newest snapshot.
        self.write(guest, model, 0, 8 * MiB, 0xee)
        guest.destroy()
        self.detach(vid, att)
        self.openstack('--os-volume-api-version', '3.40', 'volume',
                       'revert', s4, parse=False)
        seen = self.wait_status('volume', vid, 'available')
        self.assertNotIn('error', seen)
        self.assertContent(self.volume_path(vid), m4)
        # The revert keeps the chain going: the next snapshot is
        # incremental from 4 and holds 4's content.
        s6 = self.snapshot_ok(vid)
        props = self.snapshot_props(s6)
        self.assertEqual(('incremental', s4),
                         (props.get('incsnap:kind'),
                          props.get('incsnap:parent')), props)
        self.assertContent(self.snap_file(vid, s6), m4)

        # T1: the "template": a volume from snapshot 4 has its content.
        new = self.create_volume(size_gb=1, snapshot=s4)['id']
        seen = self.wait_status('volume', new, 'available')
        self.assertNotIn('error', seen)
        self.assertContent(self.volume_path(new), m4)
        info = self.qemu_img_info(self.volume_path(new))
        self.assertNotIn('backing-filename', info)

        # All of it goes: no file of either volume stays on the share.
        self.delete_snapshot(s6)
        self.delete_snapshot(s4)
        for v in (new, vid):
            self.openstack('volume', 'delete', v, parse=False)
            self.wait_gone('volume', v)
            self.assertEqual([], self.files_named(v))
