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
"""REFERENCE.md's CloudStack table, literally: files in a real guest, a
real live migration between two compute hosts reached over TLS.

snapshot_delta_max = 3. Files are made and checksummed in the guest
through its agent; each restore boots a guest on the restored volume and
finds exactly the files of that point, and ``fsck -n`` clean.
"""

import uuid

from tests.functional import guest_base


class TestCloudStackTableRealGuest(guest_base.GuestTestCase):

    def test_reference_table(self):
        volume = self.create_volume(size=1)
        vm = str(uuid.uuid4())
        att = self.attach(volume, vm, 'compute1')
        agent = self.boot(vm, volume, 'compute1')
        agent.format_and_mount()
        files = {}
        # 1: VM running, create a file, snapshot 1: full.
        files['file1'] = agent.write_file('file1', 512)
        s1 = self.snapshot(volume)
        at = {s1.id: dict(files)}
        # 2: a second file, snapshot 2: incremental from 1.
        files['file2'] = agent.write_file('file2', 256)
        s2 = self.snapshot(volume)
        at[s2.id] = dict(files)
        self.assertEqual('snapshot-%s.qcow2' % s1.id, self.image_info(
            self.snap_path(volume, s2))['backing-filename'])
        # 3: stop the VM, snapshot 3: incremental (offline).
        self.stop(vm, agent)
        s3 = self.snapshot(volume)
        at[s3.id] = dict(files)
        # 4: start the VM, a third file, snapshot 4: full (delta max 3).
        agent = self.boot(vm, volume, 'compute1')
        agent.mount()
        self.assertEqual(files, agent.files())
        files['file3'] = agent.write_file('file3', 128)
        s4 = self.snapshot(volume)
        at[s4.id] = dict(files)
        # 5: migrate the VM (live, compute1 -> compute2), a file written
        # there, snapshot 5: incremental from 4, through compute2.
        _seconds, agent = self.migrate(vm, 'compute2')
        att = self.move_attachment(volume, att, 'compute2')
        files['file4'] = agent.write_file('file4', 128)
        s5 = self.snapshot(volume)
        at[s5.id] = dict(files)
        self.assertEqual(
            [('full', 'first'), ('incremental', None), ('incremental', None),
             ('full', 'delta_max'), ('incremental', None)],
            self.kinds([s1, s2, s3, s4, s5]))
        self.assertEqual(s4.id, s5.metadata['incsnap:parent'])
        doc = self.chain_doc(volume)
        self.assertEqual(['online', 'online', 'offline', 'online', 'online'],
                         [r['mode'] for r in doc['snapshots']])
        # compute2's libvirtd made checkpoint 5 (it had 4 redefined first
        # from the chain document, then removed it).
        self.assertEqual(['incsnap-%s' % s5.id], self.checkpoints(vm))

        # R: delete the files, stop, restore.
        agent.delete_files()
        self.assertEqual({}, agent.files())
        self.stop(vm, agent)
        self.detach(volume, att)
        # Volumes from snapshots 1, 2 and 4: exactly that point's files.
        for snap in (s1, s2, s4):
            self.assertFiles(self.volume_from(snap, volume), at[snap.id])
        # Revert (Cinder: to the newest) to 5: its files are back.
        self.driver.revert_to_snapshot(self.ctx, volume, s5)
        self.assertFiles(volume, at[s5.id], host='compute2')
