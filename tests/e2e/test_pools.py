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
"""Two shares, two pools: placement and ``openstack volume migrate``.

The stack's backend has two shares (two bind-mounted exports, standing
in for NFS mounts). Through the API and the CLI as an admin: the pools
the scheduler sees, a detached volume without snapshots moved to the
other pool by the driver (its bytes, its file on the other share, its
next snapshots), and CloudStack's "migrate a volume with snapshots" row:
Cinder's API refuses it with a 400, and nothing changes.
"""

import os

from tests.e2e import base

MiB = base.MiB
MIGSTAT = base.MIGSTAT


class TestPools(base.PoolsMixin, base.E2ETestCase):

    def test_each_share_is_a_pool(self):
        pools = self.openstack('volume', 'backend', 'pool', 'list',
                               '--long')
        names = sorted(p['Name'] for p in pools if '@incsnap#' in p['Name'])
        self.assertEqual(2, len(names), pools)
        self.assertTrue(names[0].endswith(':/srv/incsnap-export'), names)
        self.assertTrue(names[1].endswith(':/srv/incsnap-export-2'), names)
        for pool in pools:
            if pool['Name'] in names:
                self.assertTrue(pool['Capabilities'].get(
                    'incremental_snapshots'), pool)

    def test_migrate_detached_volume_to_the_other_pool(self):
        vid = self.create_volume(size_gb=1)['id']
        self.wait_status('volume', vid, 'available')
        model = self.new_model(vid)
        self.offline_write(vid, 0, 4 * MiB, 0x71, model)
        self.offline_write(vid, 512 * MiB, 2 * MiB, 0x72, model)
        before = self.host_of(vid)
        old_export = base.STACK.export_of(vid)
        dest = self.other_pool(before)

        self.openstack('volume', 'migrate', '--host', dest, vid, parse=False)
        shown = self.wait_migrated(vid)

        self.assertEqual('success', shown[MIGSTAT], shown)
        self.assertEqual(dest, shown['os-vol-host-attr:host'])
        self.assertEqual('available', shown['status'])
        new_export = base.STACK.export_of(vid)
        self.assertNotEqual(old_export, new_export)
        self.assertIsNotNone(new_export)
        self.assertEqual([], [f for f in os.listdir(old_export) if vid in f])
        self.assertContent(self.volume_path(vid), model)
        # The driver moved it (no generic copy through an attachment).
        self.assertTrue(base.STACK.log_lines(
            'cinder-volume', 'Volume %s copied to ' % vid),
            'no move by the driver in the log')
        # Its snapshots now: full (it had none), then incremental, on
        # the new share.
        s1 = self.snapshot_ok(vid)
        self.assertEqual('full', self.snapshot_props(s1)['incsnap:kind'])
        self.assertContent(self.snap_file(vid, s1), model)
        self.assertTrue(self.snap_file(vid, s1).startswith(new_export))
        self.offline_write(vid, 64 * MiB, MiB, 0x73, model)
        s2 = self.snapshot_ok(vid)
        self.assertEqual('incremental',
                         self.snapshot_props(s2)['incsnap:kind'])
        self.assertContent(self.snap_file(vid, s2), model)

    def test_migrate_volume_with_snapshots_is_refused(self):
        vid = self.create_volume(size_gb=1)['id']
        self.wait_status('volume', vid, 'available')
        model = self.new_model(vid)
        self.offline_write(vid, 0, 2 * MiB, 0x81, model)
        sid = self.snapshot_ok(vid)
        before = self.host_of(vid)
        files = sorted(self.files_named(vid))

        exc = self.assertRaises(
            base.CommandFailed, self.openstack, 'volume', 'migrate',
            '--host', self.other_pool(before), vid, parse=False)

        self.assertIn('400', exc.proc.stderr)
        # Cinder's message lists every condition; snapshots among them.
        self.assertIn('have snapshots', exc.proc.stderr)
        shown = self.openstack('volume', 'show', vid)
        self.assertEqual(before, shown['os-vol-host-attr:host'])
        self.assertEqual('available', shown['status'])
        self.assertIn(shown[MIGSTAT], (None, ''))
        self.assertEqual(files, sorted(self.files_named(vid)))
        self.assertContent(self.volume_path(vid), model)
        self.assertContent(self.snap_file(vid, sid), model)
