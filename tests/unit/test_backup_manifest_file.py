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
"""Finding and reading the manifest next to the view (temporary folders)."""

import io
import json
import os
import shutil
import tempfile

from eventlet import tpool
import testtools

from incsnap_driver.backup import differential
from incsnap_driver.backup import plan


class ManifestFileTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.view_dir = os.path.join(self.dir, 'export')
        os.makedirs(self.view_dir)
        self.view = os.path.join(self.view_dir, 'volume')
        with open(self.view, 'wb') as f:
            f.write(b'\0' * 512)
        self.manifest = os.path.join(self.view_dir, plan.MANIFEST_NAME)

    def test_next_to_the_view_through_tpool_proxy(self):
        with open(self.view, 'rb') as f:
            self.assertEqual(self.manifest,
                             differential.manifest_path(tpool.Proxy(f)))

    def test_next_to_the_real_file_not_the_link(self):
        link = os.path.join(self.dir, 'dev-link')
        os.symlink(self.view, link)
        with open(link, 'rb') as f:
            self.assertEqual(self.manifest, differential.manifest_path(f))

    def test_no_name_no_manifest(self):
        self.assertIsNone(differential.manifest_path(io.BytesIO(b'x')))
        self.assertIsNone(differential.read_manifest(None))

    def test_missing(self):
        self.assertIsNone(differential.read_manifest(self.manifest))

    def test_unreadable(self):
        os.makedirs(self.manifest)
        result = differential.read_manifest(self.manifest)
        self.assertIsInstance(result, plan.InvalidManifest)
        self.assertIn('cannot read %s' % self.manifest, str(result))

    def test_invalid(self):
        with open(self.manifest, 'w') as f:
            f.write('{"format": 7}')
        result = differential.read_manifest(self.manifest)
        self.assertIsInstance(result, plan.InvalidManifest)
        self.assertIn('format 7 unknown', str(result))

    def test_valid(self):
        with open(self.manifest, 'w') as f:
            json.dump({'format': 1, 'volume_id': 'v', 'backup_id': 'b',
                       'parent_backup_id': 'p', 'size': 512,
                       'granularity': 512, 'extents': [[0, 512]],
                       'reason': None}, f)
        result = differential.read_manifest(self.manifest)
        self.assertEqual(((0, 512),), result.extents)

    def test_view_size(self):
        with open(self.view, 'rb') as f:
            f.read(10)
            self.assertEqual(512, differential._view_size(tpool.Proxy(f)))
            self.assertEqual(0, f.tell())

    def test_view_that_cannot_seek(self):
        read_end, write_end = os.pipe()
        os.close(write_end)
        with open(read_end, 'rb') as f:
            self.assertIsNone(differential._view_size(f))
