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
"""A backup's point in time: bitmaps kept, extents, reasons, manifest."""

import json

import testtools

from incsnap_driver import chain as chain_mod
from incsnap_driver.ops import backup_point as bp
from incsnap_driver.qemu import extents

OK = chain_mod.BitmapState(recording=True, consistent=True)
BROKEN = chain_mod.BitmapState(recording=True, consistent=False)
OFF = chain_mod.BitmapState(recording=False, consistent=True)


def request(**kw):
    values = dict(volume_id='v', backup_id='b2', parent_id='b1', size_gb=1,
                  parent_size_gb=1, source='volume')
    values.update(kw)
    return bp.Request(**values)


class PlanTest(testtools.TestCase):

    def test_incremental_from_the_parents_bitmap(self):
        plan = bp.plan(request(), {bp.bitmap_name('b1'): OK,
                                   bp.bitmap_name('b0'): OK,
                                   'incsnap-s1': OK})
        self.assertEqual(bp.bitmap_name('b1'), plan.extents_from)
        self.assertIsNone(plan.reason)
        self.assertEqual(bp.bitmap_name('b2'), plan.add)
        # The parent's stays (this backup may fail); older ones go;
        # the snapshot bitmap is never touched.
        self.assertEqual((bp.bitmap_name('b0'),), plan.remove)

    def test_full_backup_drops_every_backup_bitmap(self):
        plan = bp.plan(request(parent_id=None),
                       {bp.bitmap_name('b1'): OK, 'incsnap-s1': OK})
        self.assertIsNone(plan.extents_from)
        self.assertIn('no parent backup', plan.reason)
        self.assertEqual((bp.bitmap_name('b1'),), plan.remove)
        self.assertEqual(bp.bitmap_name('b2'), plan.add)

    def test_missing_inconsistent_disabled_resized(self):
        cases = [({}, 'no bitmap for parent backup b1', {}),
                 ({bp.bitmap_name('b1'): BROKEN}, 'inconsistent', {}),
                 ({bp.bitmap_name('b1'): OFF}, 'does not record', {}),
                 ({bp.bitmap_name('b1'): OK}, 'resized',
                  {'parent_size_gb': 2})]
        for bitmaps, why, kw in cases:
            plan = bp.plan(request(**kw), bitmaps)
            self.assertIsNone(plan.extents_from, why)
            self.assertIn(why, plan.reason)
            # An unusable parent bitmap is dropped, the new one added.
            self.assertEqual(tuple(bitmaps), plan.remove)
            self.assertEqual(bp.bitmap_name('b2'), plan.add)

    def test_snapshot_sources_touch_no_bitmap(self):
        for source in ('snapshot', 'temp_snapshot'):
            plan = bp.plan(request(source=source),
                           {bp.bitmap_name('b1'): OK})
            self.assertIsNone(plan.extents_from)
            self.assertIsNone(plan.add)
            self.assertEqual((), plan.remove)
            self.assertIn('not supported yet', plan.reason)

    def test_backup_bitmaps_are_not_snapshot_bitmaps(self):
        self.assertFalse(chain_mod.is_ours(bp.bitmap_name('b1')))
        self.assertTrue(chain_mod.is_ours(chain_mod.bitmap_name('s1')))
        self.assertFalse(bp.is_backup_bitmap(chain_mod.bitmap_name('s1')))

    def test_purpose(self):
        self.assertEqual(bp.BACKUP, bp.purpose_of('backing-up'))
        self.assertEqual(bp.RESTORE, bp.purpose_of('restoring-backup'))
        self.assertIsNone(bp.purpose_of('in-use'))
        self.assertIsNone(bp.purpose_of('attaching'))


class ManifestTest(testtools.TestCase):

    def test_extents_sorted_merged(self):
        self.assertEqual([[0, 30], [40, 5]],
                         bp.coalesce([[20, 10], [0, 10], [10, 10], [40, 5],
                                      [41, 1], [50, 0]]))

    def test_document(self):
        doc = bp.manifest(request(), 2 ** 30, 65536, [[65536, 65536]],
                          None)
        self.assertEqual({'format': 1, 'volume_id': 'v', 'backup_id': 'b2',
                          'parent_backup_id': 'b1', 'size': 2 ** 30,
                          'granularity': 65536,
                          'extents': [[65536, 65536]], 'reason': None},
                         json.loads(json.dumps(doc)))
        doc = bp.manifest(request(parent_id=None), 1, 65536, None, 'why')
        self.assertIsNone(doc['extents'])
        self.assertEqual('why', doc['reason'])
        self.assertIsNone(doc['parent_backup_id'])


class ParseMapTest(testtools.TestCase):

    def test_dirty_entries_only(self):
        entries = [
            {'offset': 0, 'length': 1048576, 'type': 0},
            {'offset': 1048576, 'length': 65536, 'type': 1},
            {'offset': 1114112, 'length': 65536, 'type': 1},
            {'offset': 1179648, 'length': 100, 'type': 0},
            {'offset': 1179748, 'length': 10, 'type': 1},
        ]
        self.assertEqual([[1048576, 131072], [1179748, 10]],
                         extents.parse_map(entries))
