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
"""gc's plan: what it may remove, what it refuses."""

from incsnap_driver.manage.checks import gc
from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import share
from tests.unit.manage import scans

VOL, S1, S2, S3, OTHER = scans.IDS
good_scan = scans.good_scan


class TestGcPlan(scans.CheckTestCase):

    def listing(self, *extra):
        return share.classify_share(
            [model.Entry('volume-%s' % VOL),
             model.Entry('volume-%s.incsnap' % VOL, type=model.DIR)] +
            list(extra))

    def test_removes_orphans_only(self):
        scan = good_scan()
        scan.entries['.chain.abc.tmp'] = model.Entry('.chain.abc.tmp')
        top = model.Entry('volume-%s.revert.part' % VOL)
        removable, refused = gc.gc_plan(self.listing(top), [scan])
        self.assertEqual(['volume-%s.revert.part' % VOL,
                          'volume-%s.incsnap/.chain.abc.tmp' % VOL],
                         [o.path for o in removable])
        self.assertEqual([], refused)

    def test_healthy_nothing(self):
        self.assertEqual(([], []),
                         gc.gc_plan(self.listing(), [good_scan()]))

    def test_refuses_unreadable_document(self):
        scan = good_scan()
        scan.chain = None
        scan.chain_error = 'unreadable'
        scan.entries['x.part'] = model.Entry('snapshot-%s.qcow2.part'
                                             % OTHER)
        removable, refused = gc.gc_plan(self.listing(), [scan])
        self.assertEqual([], removable)
        self.assertEqual(['chain_unreadable'], [p.code for p in refused])

    def test_refuses_symlinks_and_recent(self):
        scan = good_scan()
        link = 'snapshot-%s.qcow2.part' % OTHER
        scan.entries[link] = model.Entry(link, type=model.SYMLINK,
                                         link_target='/etc/passwd')
        young = 'revert-%s.undo.qcow2' % S3
        scan.entries[young] = model.Entry(young, age=10)
        removable, refused = gc.gc_plan(self.listing(), [scan],
                                        min_age=600)
        self.assertEqual([], removable)
        codes = sorted(p.code for p in refused)
        self.assertEqual(['orphan_recent', 'symlink'], codes)

    def test_folder_of_gone_volume(self):
        scan = good_scan()
        scan.volume = None
        for record in scan.chain.snapshots:
            record.hidden = True
        listing = share.classify_share(
            [model.Entry('volume-%s.incsnap' % VOL, type=model.DIR)])
        removable, refused = gc.gc_plan(listing, [scan])
        self.assertEqual(['volume-%s.incsnap' % VOL],
                         [o.path for o in removable])
        self.assertTrue(removable[0].is_folder)
        # With a live snapshot in its document: damage, not garbage.
        scan.chain.snapshots[0].hidden = False
        removable, refused = gc.gc_plan(listing, [scan])
        self.assertEqual([], removable)
        self.assertEqual(['volume_missing'], [p.code for p in refused])
        # A name the driver does not write in it: refused too.
        scan.chain.snapshots[0].hidden = True
        scan.entries['photo.jpg'] = model.Entry('photo.jpg')
        removable, refused = gc.gc_plan(listing, [scan])
        self.assertEqual([], removable)
        self.assertIn('photo.jpg', refused[0].message)
