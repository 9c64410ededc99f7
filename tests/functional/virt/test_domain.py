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
"""Domain and disk lookup, connection and version gate on real libvirt."""

import subprocess
import uuid

from incsnap_driver.virt import domain
from incsnap_driver.virt import errors
from incsnap_driver.virt import versions
from tests.functional.virt import base


class DomainLookupTest(base.VirtTestCase):

    def test_unknown_uuid_is_none(self):
        self.assertIsNone(domain.find_running_domain(self.conn,
                                                     str(uuid.uuid4())))

    def test_defined_but_not_running_is_none(self):
        vol = self.make_volume()
        dom_uuid = self.domains.define([vol.path]).uuid
        self.assertIsNone(domain.find_running_domain(self.conn, dom_uuid))
        self.assertIsNone(domain.find_attached_disk(self.conn, dom_uuid,
                                                    vol.name))

    def test_running_domain_and_disk(self):
        vol = self.make_volume()
        other = self.make_volume()
        _dom, dom_uuid = self.start_domain([other, vol])
        found = domain.find_running_domain(self.conn, dom_uuid)
        self.assertEqual(dom_uuid, found.UUIDString())
        disk = domain.find_attached_disk(self.conn, dom_uuid, vol.name)
        self.assertEqual(('vdb', vol.path, 'qcow2'),
                         (disk.target, disk.source, disk.driver_type))
        self.assertEqual(dom_uuid, disk.domain_uuid)
        self.assertRaises(errors.DiskNotFound, domain.find_attached_disk,
                          self.conn, dom_uuid, 'volume-%s' % uuid.uuid4())


class VersionGateTest(base.VirtTestCase):

    def test_real_versions(self):
        found = self.libvirt.versions()
        out = subprocess.run(['virsh', '-c', base.URI, 'version'],
                             capture_output=True, text=True,
                             check=True).stdout
        lib_line = [line for line in out.splitlines()
                    if line.startswith('Using library')][0]
        hyp_line = [line for line in out.splitlines()
                    if line.startswith('Running hypervisor')][0]
        self.assertEqual(lib_line.split()[-1],
                         versions.to_text(found.libvirt))
        self.assertEqual(hyp_line.split()[-1],
                         versions.to_text(found.qemu))
        self.assertTrue(found.has_backup_api)
        # Debian 12: libvirt 9.0, QEMU 7.2: both gates open.
        versions.check(found.libvirt, found.qemu, incremental=True)
        versions.check(found.libvirt, found.qemu, incremental=False)
        # The same QEMU with a libvirt just below the floor is refused.
        exc = self.assertRaises(errors.VersionTooOld, versions.check,
                                (7, 5, 0), found.qemu, True)
        self.assertIn(versions.to_text(found.qemu), str(exc))
        self.assertIn('7.5.0', str(exc))
