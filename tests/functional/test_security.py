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
"""Hostile input.

Paths leading out of the share, tampered documents, credentials in the
libvirt URI, file modes.
"""

import json
import os

from cinder import exception
import fixtures

from tests.functional import base

MiB = base.MiB


class TestHostileFiles(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.outside = self.useFixture(fixtures.TempDir()).path
        self.secret = os.path.join(self.outside, 'secret')
        with open(self.secret, 'w') as f:
            f.write('do not touch')

    def test_snapshot_folder_symlinked_out_of_the_share(self):
        volume = self.create_volume()
        os.symlink(self.outside, self.snap_dir(volume))
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_snapshot,
                                self.new_snapshot(volume))
        self.assertIn('symbolic link', str(exc))
        self.assertIn(volume.id, str(exc))
        self.assertEqual(['secret'], os.listdir(self.outside))
        # Deleting the volume removes the link, not what it points to.
        os.unlink(self.snap_dir(volume))
        os.symlink(self.outside, self.snap_dir(volume))
        self.assertRaises(exception.VolumeBackendAPIException,
                          self.driver.delete_volume, volume)
        with open(self.secret) as f:
            self.assertEqual('do not touch', f.read())

    def test_tampered_document_cannot_name_outside_files(self):
        volume = self.create_volume()
        self.write(volume, 0, MiB, 0x11)
        snap = self.create_snapshot(volume)
        doc = os.path.join(self.snap_dir(volume), 'chain.json')
        with open(doc) as f:
            data = json.load(f)
        data['snapshots'][0]['file'] = os.path.relpath(
            self.secret, self.snap_dir(volume))
        with open(doc, 'w') as f:
            json.dump(data, f)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.delete_snapshot, snap)
        self.assertIn(volume.id, str(exc))
        self.assertIn('expected snapshot-%s.qcow2' % snap.id, str(exc))
        with open(self.secret) as f:
            self.assertEqual('do not touch', f.read())
        self.assertTrue(os.path.exists(self.snap_path(volume, snap)))

    def test_snapshot_id_that_is_not_a_uuid(self):
        volume = self.create_volume()
        snap = self.new_snapshot(volume)
        snap.id = '../../escape'
        exc = self.assertRaises(exception.InvalidSnapshot,
                                self.driver.create_snapshot, snap)
        self.assertIn('../../escape', str(exc))
        self.assertEqual([], self.files_in(self.snap_dir(volume)))

    def test_file_modes_follow_nas_options(self):
        # nas_secure_file_permissions = true here: 660, no world access.
        volume = self.create_volume()
        self.write(volume, 0, MiB, 0x11)
        snap = self.create_snapshot(volume)
        for path in (self.volume_path(volume), self.snap_path(volume, snap),
                     os.path.join(self.snap_dir(volume), 'chain.json')):
            self.assertEqual(0o660, os.stat(path).st_mode & 0o777, path)


class TestCredentialsNotLogged(base.FunctionalTestCase):

    backend_options = {
        # A libvirt URI with a password, to a closed port on loopback.
        'incsnap_libvirt_uri': 'qemu+tcp://admin:s3cr3t-pw@{host}:1/system',
    }

    def test_password_in_uri_never_shown(self):
        logs = self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        volume = self.create_volume()
        from cinder import objects
        att = objects.VolumeAttachment(
            context=self.ctx, volume_id=volume.id,
            instance_uuid='6f1c2a9d-7e5b-4c10-8a3f-1c2a9d7e5b4c',
            attached_host='127.0.0.1', attach_status='attached',
            attach_mode='rw')
        att.create()
        volume.status = 'in-use'
        volume.attach_status = 'attached'
        volume.save()
        snap = self.new_snapshot(volume)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_snapshot, snap)
        # Not reachable: the snapshot fails (a VM may run there, so the
        # volume is not touched offline), and says where, without the
        # password.
        self.assertIn('127.0.0.1', str(exc))
        self.assertNotIn('s3cr3t-pw', str(exc))
        self.assertNotIn('s3cr3t-pw', logs.output)
        # No snapshot file (the chain document is written first).
        self.assertEqual(['chain.json'], self.files_in(self.snap_dir(volume)))
