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
"""Bad requests through the API: an error, and nothing else changes."""

import os
import time
import uuid

from tests.e2e import base

MiB = base.MiB


class TestBadInput(base.E2ETestCase):

    def volume_with_two_snapshots(self):
        vid = self.create_volume(size_gb=1)['id']
        self.wait_status('volume', vid, 'available')
        model = self.new_model(vid)
        self.offline_write(vid, 0, 2 * MiB, 0x11, model)
        m1 = self.model_copy(model, 's1')
        s1 = self.snapshot_ok(vid)
        self.offline_write(vid, 32 * MiB, 2 * MiB, 0x22, model)
        m2 = self.model_copy(model, 's2')
        s2 = self.snapshot_ok(vid)
        return vid, model, (s1, m1), (s2, m2)

    def assertIntact(self, vid, model, snaps):
        self.assertEqual('available',
                         self.openstack('volume', 'show', vid)['status'])
        self.assertContent(self.volume_path(vid), model)
        for sid, expected in snaps:
            self.assertEqual('available', self.openstack(
                'volume', 'snapshot', 'show', sid)['status'])
            self.assertContent(self.snap_file(vid, sid), expected)

    def test_revert_to_older_snapshot_is_refused(self):
        vid, model, (s1, m1), (s2, m2) = self.volume_with_two_snapshots()
        exc = self.assertRaises(
            base.CommandFailed, self.openstack, '--os-volume-api-version',
            '3.40', 'volume', 'revert', s1, parse=False)
        self.assertIn('400', exc.proc.stderr)
        self.assertIn('latest', exc.proc.stderr.lower())
        self.assertIntact(vid, model, [(s1, m1), (s2, m2)])

    def test_in_use_snapshot_without_force_is_refused(self):
        vid = self.create_volume(size_gb=1)['id']
        self.wait_status('volume', vid, 'available')
        model = self.new_model(vid)
        self.offline_write(vid, 0, 1 * MiB, 0x33, model)
        att, _info = self.attach(vid, str(uuid.uuid4()))
        exc = self.assertRaises(base.CommandFailed, self.create_snapshot,
                                vid)
        self.assertIn('400', exc.proc.stderr)
        self.assertIn('in-use', exc.proc.stderr)
        self.assertEqual([], self.openstack('volume', 'snapshot', 'list',
                                            '--volume', vid))
        self.assertEqual('in-use',
                         self.openstack('volume', 'show', vid)['status'])
        self.assertEqual([], [f for f in self.files_named(vid)
                              if f.endswith('.qcow2')])
        self.detach(vid, att)
        self.assertContent(self.volume_path(vid), model)

    def test_volume_file_removed_behind_cinders_back(self):
        vid, model, (s1, m1), (s2, m2) = self.volume_with_two_snapshots()
        os.unlink(self.volume_path(vid))
        bad = self.create_snapshot(vid)['id']
        seen = []
        for _ in range(int(base.TIMEOUT)):
            status = self.openstack('volume', 'snapshot', 'show',
                                    bad)['status']
            if not seen or seen[-1] != status:
                seen.append(status)
            if status != 'creating':
                break
            time.sleep(1)
        self.assertEqual('error', seen[-1], seen)
        self.assertEqual([], self.files_named(bad))
        # The other snapshots are untouched, and still readable.
        for sid, expected in ((s1, m1), (s2, m2)):
            self.assertEqual('available', self.openstack(
                'volume', 'snapshot', 'show', sid)['status'])
            self.assertContent(self.snap_file(vid, sid), expected)
        # The failed snapshot can be deleted; then the rest, the volume too.
        for sid in (bad, s2, s1):
            self.delete_snapshot(sid)
        self.openstack('volume', 'delete', vid, parse=False)
        self.wait_gone('volume', vid)
        self.assertEqual([], self.files_named(vid))
