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
"""The chains command's rows: sizes own and down the chain."""

import testtools

from incsnap_driver.manage.checks import table
from tests.unit.manage import scans

VOL, S1, S2, S3, OTHER = scans.IDS
MiB = scans.MiB
snap_file = scans.snap_file
good_scan = scans.good_scan


class TestChainRows(testtools.TestCase):

    def test_chain_rows(self):
        rows = {r['id']: r for r in table.chain_rows(good_scan())}
        self.assertEqual((8 * MiB, 8 * MiB), (rows[S1]['own_bytes'],
                                              rows[S1]['chain_bytes']))
        self.assertEqual(9 * MiB, rows[S2]['chain_bytes'])
        self.assertEqual(11 * MiB, rows[S3]['chain_bytes'])
        self.assertTrue(rows[S2]['hidden'])
        self.assertTrue(rows[S3]['head'])
        self.assertEqual((S2, 3, 'online'), (rows[S3]['parent'],
                                             rows[S3]['depth'],
                                             rows[S3]['mode']))
        self.assertEqual('first', rows[S1]['full_reason'])

    def test_chain_rows_missing_file(self):
        scan = good_scan()
        del scan.entries[snap_file(S2)]
        rows = {r['id']: r for r in table.chain_rows(scan)}
        self.assertFalse(rows[S2]['present'])
        self.assertIsNone(rows[S3]['chain_bytes'])
        self.assertEqual(8 * MiB, rows[S1]['chain_bytes'])
