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
"""The version gate: pure comparisons, no libvirt needed."""

import testtools

from incsnap_driver.virt import errors
from incsnap_driver.virt import versions


class FromLibvirtIntTest(testtools.TestCase):

    def test_decodes(self):
        self.assertEqual((9, 0, 0), versions.from_libvirt_int(9000000))
        self.assertEqual((7, 2, 22), versions.from_libvirt_int(7002022))
        self.assertEqual((7, 6, 0), versions.from_libvirt_int('7006000'))
        self.assertEqual('6.10.1', versions.to_text(
            versions.from_libvirt_int(6010001)))

    def test_negative(self):
        self.assertRaises(ValueError, versions.from_libvirt_int, -1)


class IncrementalGateTest(testtools.TestCase):

    def test_at_and_above_the_floors(self):
        for lib, qemu in [((7, 6, 0), (6, 1, 0)), ((7, 6), (6, 1)),
                          ((9, 0, 0), (7, 2, 22)), ((10, 0, 0), (8, 0, 0)),
                          ((7, 10, 0), (6, 2, 0))]:
            versions.check(lib, qemu, incremental=True)

    def test_libvirt_below(self):
        exc = self.assertRaises(errors.VersionTooOld, versions.check,
                                (7, 5, 9), (7, 2, 0), True)
        for text in ('7.5.9', '7.2.0', '7.6.0', '6.1.0'):
            self.assertIn(text, str(exc))
        self.assertEqual({'libvirt': (7, 5, 9), 'qemu': (7, 2, 0)},
                         exc.found)
        self.assertEqual({'libvirt': (7, 6, 0), 'qemu': (6, 1, 0)},
                         exc.needed)

    def test_qemu_below(self):
        exc = self.assertRaises(errors.VersionTooOld, versions.check,
                                (9, 0, 0), (6, 0, 99), True)
        for text in ('9.0.0', '6.0.99', '7.6.0', '6.1.0'):
            self.assertIn(text, str(exc))

    def test_minor_compared_as_number_not_text(self):
        # 7.10 is above 7.6 although '10' < '6' as text.
        versions.check((7, 10, 0), (6, 10, 0), True)
        self.assertRaises(errors.VersionTooOld, versions.check,
                          (6, 10, 0), (6, 1, 0), True)

    def test_no_backup_api_is_too_old(self):
        exc = self.assertRaises(errors.VersionTooOld, versions.check,
                                (9, 0, 0), (7, 2, 0), True, False)
        self.assertIn('backupBegin', str(exc))


class FullOnlyGateTest(testtools.TestCase):

    def test_old_hosts_take_full_snapshots(self):
        versions.check((6, 0, 0), (4, 2, 0), incremental=False)
        versions.check((7, 5, 0), (6, 0, 0), incremental=False)

    def test_no_backup_api(self):
        exc = self.assertRaises(errors.BackupUnsupported, versions.check,
                                (5, 10, 0), (5, 2, 0), False)
        self.assertIn('5.10.0', str(exc))
        self.assertIn('6.0.0', str(exc))
        exc = self.assertRaises(errors.BackupUnsupported, versions.check,
                                (9, 0, 0), (7, 2, 0), False, False)
        self.assertIn('backupBegin', str(exc))
