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
"""The share's top level: volumes, folders, leftovers, other names."""

import testtools

from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import share
from tests.unit.manage import scans

VOL, S1, S2, S3, OTHER = scans.IDS


class TestShareLevel(testtools.TestCase):

    def test_share_level(self):
        entries = [model.Entry('volume-%s' % VOL),
                   model.Entry('volume-%s.incsnap' % VOL, type=model.DIR),
                   model.Entry('volume-%s.revert.part' % VOL),
                   model.Entry('volume-%s.part' % OTHER),
                   model.Entry('volume-%s.info' % VOL),
                   model.Entry('volume-NOT-A-UUID'),
                   model.Entry('lost+found', type=model.DIR)]
        listing = share.classify_share(entries)
        self.assertEqual([VOL], list(listing.volumes))
        self.assertEqual([VOL], list(listing.folders))
        self.assertEqual(['volume-%s.revert.part' % VOL,
                          'volume-%s.part' % OTHER],
                         [e.name for e in listing.parts])
        self.assertEqual(['volume-NOT-A-UUID'],
                         [e.name for e in listing.ignored])
        problems = share.share_problems(listing)
        self.assertEqual(['orphan', 'orphan', 'ignored_name'],
                         [p.code for p in problems])
        self.assertEqual(model.INFO, problems[2].severity)
