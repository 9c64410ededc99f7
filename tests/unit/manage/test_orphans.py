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
"""Leftovers in a snapshot folder: which are orphans, how reported."""

from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import orphans
from tests.unit.manage import scans

VOL, S1, S2, S3, OTHER = scans.IDS
snap_file = scans.snap_file
good_scan = scans.good_scan


class TestOrphans(scans.CheckTestCase):

    def scan_with_strays(self, age=1e6):
        scan = good_scan()
        names = ['snapshot-%s.qcow2.part' % OTHER,
                 'revert-%s.undo.qcow2' % S3,
                 '.chain.k2j_3x.tmp',
                 snap_file(OTHER)]
        for name in names:
            scan.entries[name] = model.Entry(name, age=age)
        return scan, names

    def test_orphans_found(self):
        scan, names = self.scan_with_strays()
        found = orphans.find_orphans(scan)
        self.assertEqual(sorted('volume-%s.incsnap/%s' % (VOL, n)
                                for n in names),
                         sorted(o.path for o in found))
        problems = self.only(self.problems(scan), 'orphan')
        self.assertEqual(4, len(problems))

    def test_recent_orphans_are_warnings(self):
        scan, _names = self.scan_with_strays(age=5)
        self.only(self.problems(scan, min_age=600), 'orphan_recent',
                  model.WARNING)
        self.only(self.problems(scan, min_age=0), 'orphan')
