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
"""Smoke test of the stack: volume and snapshot lifecycle through the CLI."""

import os

from tests.e2e import base


class TestStack(base.E2ETestCase):

    def test_services_up(self):
        services = self.openstack('volume', 'service', 'list')
        states = {(s['Binary'], s['Host']): s['State'] for s in services}
        self.assertEqual('up', states.get(('cinder-scheduler', 'aio')),
                         services)
        self.assertEqual('up', states.get(('cinder-volume', 'aio@incsnap')),
                         services)

    def test_volume_and_snapshot_lifecycle(self):
        # No --type: the stack makes "incsnap" the default type.
        vol = self.create_volume(size_gb=1)
        vid = vol['id']
        seen = self.wait_status('volume', vid, 'available')
        self.assertNotIn('error', seen)

        shown = self.openstack('volume', 'show', vid)
        self.assertEqual(1, shown['size'])
        self.assertEqual('incsnap', shown['type'])
        self.assertTrue(shown['os-vol-host-attr:host'].startswith(
            'aio@incsnap#'), shown['os-vol-host-attr:host'])

        # The volume is a qcow2 file in the root of the share, 1 GiB.
        path = self.volume_path(vid)
        self.assertTrue(os.path.isfile(path),
                        'no %s; export holds %s'
                        % (path, self.files_named('')))
        info = self.qemu_img_info(path)
        self.assertEqual('qcow2', info['format'])
        self.assertEqual(base.GiB, info['virtual-size'])

        snap = self.create_snapshot(vid)
        sid = snap['id']
        seen = self.wait_status('volume snapshot', sid, 'available')
        self.assertNotIn('error', seen)
        self.assertEqual(vid, self.openstack('volume', 'snapshot', 'show',
                                             sid)['volume_id'])
        # Whatever the driver's layout, the snapshot's data is a file on
        # the share named after it.
        snap_files = self.files_named(sid)
        self.assertNotEqual([], snap_files,
                            'no file named after snapshot %s: %s'
                            % (sid, self.files_named('')))

        self.openstack('volume', 'snapshot', 'delete', sid, parse=False)
        seen = self.wait_gone('volume snapshot', sid)
        self.assertNotIn('error_deleting', seen)
        self.assertEqual([], self.files_named(sid))
        self.assertEqual('available', self.openstack('volume', 'show',
                                                     vid)['status'])

        self.openstack('volume', 'delete', vid, parse=False)
        seen = self.wait_gone('volume', vid)
        self.assertNotIn('error_deleting', seen)
        self.assertEqual([], self.files_named(vid))
