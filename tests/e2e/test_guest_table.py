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
"""REFERENCE.md's CloudStack table through Cinder's API, with a real guest.

The stack's cinder-volume reaches the two compute hosts of
``tools/compute-hosts`` over TLS (``AIO_COMPUTE_HOSTS=1 tools/aio up``);
the attachment's host, as Nova's connector names it, picks the libvirtd.
The guest (``tools/build-guest``) runs on the volume as the compute hosts
see the share; files are made and checksummed in it through its agent.
Step 5 is a real live migration compute1 -> compute2, with the attachment
moved as Nova moves it (a new one for the destination, the old one
deleted). Each restore boots a guest on the restored volume: exactly the
files of that point, ``fsck -n`` clean. snapshot_delta_max = 3 (the
stack's setting).
"""

import os
import sys
import tempfile
import uuid

from tests.common import compute
from tests.common import domains
from tests.common import guest
from tests.e2e import base


class TestCloudStackTableRealGuest(base.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.require_libvirt_access()
        self.hosts = self.compute_hosts()
        if self.hosts is None:
            self.skipTest('the stack in %s talks to the machine\'s libvirtd, '
                          'not to the compute hosts: AIO_COMPUTE_HOSTS=1 '
                          'tools/aio up' % base.STACK.aio_dir)
        self.doms = {h: domains.Domains(self.addCleanup, 'incsnap-e2e-guest',
                                        uri=self.hosts.uri(h))
                     for h in compute.NAMES}
        # QEMU (user libvirt-qemu) writes the guests' consoles here.
        self.consoles = tempfile.mkdtemp(prefix='incsnap-e2e-consoles-')
        os.chmod(self.consoles, 0o755)
        self.boots = []

    def boot(self, vm, volume_id, host='compute1'):
        """The guest ``vm`` on ``host`` on the volume; its agent."""
        dom, agent, seconds = guest.boot(
            self.doms[host], vm, self.compute_path('volume-%s' % volume_id),
            os.path.join(self.consoles, '%s-%s.log' % (vm, len(self.boots))))
        self.boots.append(seconds)
        self.assertTrue(dom.is_active())
        return dom, agent

    def stop(self, dom, agent):
        """A clean shutdown: unmount, then power off (QEMU closes)."""
        agent.umount()
        dom.destroy(graceful=True)

    def snap(self, vid, kind, parent=None, reason=None):
        """An in-use snapshot through the API; its id, kind checked."""
        sid = self.snapshot_ok(vid, microversion=base.IN_USE_MICROVERSION)
        props = self.snapshot_props(sid)
        self.assertEqual((kind, parent, reason),
                         (props.get('incsnap:kind'),
                          props.get('incsnap:parent'),
                          props.get('incsnap:full_reason')), props)
        return sid

    def assertFiles(self, volume_id, expected, host='compute1'):
        """Boot a guest on the volume: exactly ``expected``, fsck clean."""
        dom, agent = self.boot(str(uuid.uuid4()), volume_id, host)
        agent.mount()
        self.assertEqual(expected, agent.files())
        agent.umount()
        agent.fsck()   # exit 0: nothing to fix
        dom.destroy()

    def test_reference_table(self):
        vid = self.create_volume(size_gb=1)['id']
        self.wait_status('volume', vid, 'available')
        iid = str(uuid.uuid4())
        att, _info = self.attach(vid, iid, host='compute1')
        dom, agent = self.boot(iid, vid, 'compute1')
        agent.format_and_mount()
        files = {}
        at = {}
        # 1: VM running, create a file, snapshot 1: full.
        files['file1'] = agent.write_file('file1', 512)
        s1 = self.snap(vid, 'full', reason='first')
        at[s1] = dict(files)
        # 2: a second file, snapshot 2: incremental from 1.
        files['file2'] = agent.write_file('file2', 256)
        s2 = self.snap(vid, 'incremental', parent=s1)
        at[s2] = dict(files)
        self.assertEqual('snapshot-%s.qcow2' % s1, self.qemu_img_info(
            self.snap_file(vid, s2))['backing-filename'])
        # 3: stop the VM (the volume stays attached), snapshot 3:
        # incremental, taken offline.
        self.stop(dom, agent)
        s3 = self.snap(vid, 'incremental', parent=s2)
        at[s3] = dict(files)
        # 4: start the VM, a third file, snapshot 4: full (delta max 3).
        dom, agent = self.boot(iid, vid, 'compute1')
        agent.mount()
        self.assertEqual(files, agent.files())
        files['file3'] = agent.write_file('file3', 128)
        s4 = self.snap(vid, 'full', reason='delta_max')
        at[s4] = dict(files)
        # 5: live migration compute1 -> compute2 as Nova does it, then
        # Nova's attachment for compute2 and the old one deleted; a file
        # written there, snapshot 5: incremental from 4, taken through
        # compute2's libvirtd.
        seconds = compute.migrate(dom.lookup(), 'compute2', self.hosts)
        sys.stderr.write('live migration compute1 -> compute2: %.1f s\n'
                         % seconds)
        dom = self.doms['compute2'].adopt(iid, dom.spec)
        self.assertTrue(dom.is_active())
        agent = guest.Agent(dom)
        new_att, _info = self.attach(vid, iid, host='compute2')
        base.STACK.detach(att)
        att = new_att
        files['file4'] = agent.write_file('file4', 128)
        s5 = self.snap(vid, 'incremental', parent=s4)
        at[s5] = dict(files)
        self.assertEqual(['incsnap-%s' % s5],
                         sorted(c.getName() for c in
                                dom.lookup().listAllCheckpoints(0)))

        # R: delete the files, stop the VM, detach.
        agent.delete_files()
        self.assertEqual({}, agent.files())
        self.stop(dom, agent)
        self.detach(vid, att)
        # Volumes from snapshots 1, 2 and 4, a guest booted on each:
        # exactly the files of that point.
        for sid in (s1, s2, s4):
            new = self.create_volume(size_gb=1, snapshot=sid)['id']
            seen = self.wait_status('volume', new, 'available')
            self.assertNotIn('error', seen)
            self.assertFiles(new, at[sid])
        # Revert (Cinder reverts to the newest snapshot): 5's files.
        self.openstack('--os-volume-api-version', '3.40', 'volume',
                       'revert', s5, parse=False)
        seen = self.wait_status('volume', vid, 'available')
        self.assertNotIn('error', seen)
        self.assertFiles(vid, at[s5], host='compute2')
        self.assertEqual([], self.leftovers(vid))
        sys.stderr.write('guest boots (s): %s\n'
                         % ' '.join('%.1f' % b for b in self.boots))
