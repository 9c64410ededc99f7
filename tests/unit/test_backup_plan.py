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
"""The differential backup's manifest, choice and block arithmetic."""

import json

import testtools

from incsnap_driver.backup import plan

GiB = 1024 ** 3
BLOCK = 32768


def manifest_text(**changes):
    doc = {'format': 1, 'volume_id': 'vol', 'backup_id': 'b2',
           'parent_backup_id': 'b1', 'size': GiB, 'granularity': 65536,
           'extents': [[0, 65536], [GiB - 65536, 65536]], 'reason': None}
    doc.update(changes)
    return json.dumps(doc)


def manifest(**changes):
    return plan.parse_manifest(manifest_text(**changes))


def choose(m, backup_id='b2', volume_id='vol', parent_id='b1', size=GiB,
           parent_size=GiB, view_size=GiB):
    return plan.choose(m, backup_id, volume_id, parent_id, size,
                       parent_size, view_size)


class ParseManifestTest(testtools.TestCase):

    def test_valid(self):
        m = manifest()
        self.assertEqual(((0, 65536), (GiB - 65536, 65536)), m.extents)
        self.assertEqual('b1', m.parent_backup_id)
        self.assertEqual(GiB, m.size)

    def test_null_extents_keep_the_reason(self):
        m = manifest(extents=None, reason='volume resized')
        self.assertIsNone(m.extents)
        self.assertEqual('volume resized', m.reason)

    def test_null_parent(self):
        self.assertIsNone(manifest(parent_backup_id=None).parent_backup_id)

    def assertInvalid(self, text, *words):
        exc = self.assertRaises(plan.InvalidManifest, plan.parse_manifest,
                                text)
        for word in words:
            self.assertIn(word, str(exc))

    def test_not_json(self):
        self.assertInvalid('{"format": 1', 'not JSON')

    def test_not_an_object(self):
        self.assertInvalid('[1, 2]', 'not a JSON object')

    def test_unknown_format(self):
        self.assertInvalid(manifest_text(format=2), 'format 2 unknown')
        self.assertInvalid(manifest_text(format=None), 'format None')

    def test_bad_size(self):
        self.assertInvalid(manifest_text(size='1G'), 'size', "'1G'")
        self.assertInvalid(manifest_text(size=0), 'size is 0')
        self.assertInvalid(manifest_text(size=True), 'size')

    def test_bad_ids(self):
        self.assertInvalid(manifest_text(backup_id=None), 'backup_id')
        self.assertInvalid(manifest_text(volume_id=''), 'volume_id')
        self.assertInvalid(manifest_text(parent_backup_id=3),
                           'parent_backup_id')

    def test_bad_extents(self):
        self.assertInvalid(manifest_text(extents={'0': 1}), 'not a list')
        self.assertInvalid(manifest_text(extents=[[0]]), '[0]')
        self.assertInvalid(manifest_text(extents=[[0, '1']]), 'offset')
        self.assertInvalid(manifest_text(extents=[[-1, 5]]), 'negative')
        self.assertInvalid(manifest_text(extents=[[0, 0]]), 'no length')
        self.assertInvalid(manifest_text(extents=[[10, 5], [0, 5]]),
                           'overlaps')
        self.assertInvalid(manifest_text(extents=[[0, 10], [5, 5]]),
                           'overlaps')
        self.assertInvalid(manifest_text(extents=[[GiB - 1, 2]]),
                           'ends past the size')

    def test_touching_extents_are_fine(self):
        self.assertEqual(((0, 10), (10, 5)),
                         manifest(extents=[[0, 10], [10, 5]]).extents)


class ChooseTest(testtools.TestCase):

    def assertStock(self, choice, *words):
        self.assertEqual(plan.READ_AND_HASH, choice.mode)
        self.assertFalse(choice.differential)
        for word in words:
            self.assertIn(word, choice.reason)

    def test_differential(self):
        choice = choose(manifest())
        self.assertTrue(choice.differential)
        self.assertIn('131072 of %d bytes dirty in 2 extents' % GiB,
                      choice.reason)

    def test_full_backup(self):
        choice = choose(manifest(), parent_id=None, parent_size=None)
        self.assertEqual(plan.FULL, choice.mode)
        self.assertFalse(choice.differential)

    def test_no_manifest(self):
        self.assertStock(choose(None), 'no incsnap-backup.json')

    def test_invalid_manifest(self):
        self.assertStock(choose(plan.InvalidManifest('format 9 unknown')),
                         'invalid incsnap-backup.json', 'format 9 unknown')

    def test_other_backup(self):
        self.assertStock(choose(manifest(backup_id='b9')), 'backup b9')

    def test_other_volume(self):
        self.assertStock(choose(manifest(volume_id='v9')), 'volume v9')

    def test_parent_mismatch(self):
        self.assertStock(choose(manifest(parent_backup_id='b0')),
                         'relative to b0', 'parent backup b1')
        self.assertStock(choose(manifest(parent_backup_id=None)),
                         'relative to no backup')

    def test_extents_null(self):
        self.assertStock(
            choose(manifest(extents=None,
                            reason='no bitmap for parent backup b1')),
            'no extents: no bitmap for parent backup b1')
        self.assertStock(choose(manifest(extents=None)), 'no reason given')

    def test_size_changed(self):
        self.assertStock(choose(manifest(), size=2 * GiB, view_size=2 * GiB),
                         'manifest size %d' % GiB)
        self.assertStock(choose(manifest(), parent_size=2 * GiB),
                         'parent backup size %d' % (2 * GiB))
        self.assertStock(choose(manifest(), view_size=GiB - 512),
                         'the view reads %d bytes' % (GiB - 512))
        self.assertStock(choose(manifest(), view_size=None),
                         'the view cannot seek')

    def test_metadata_fits_cinders_column(self):
        entries = plan.Choice(plan.READ_AND_HASH, 'x' * 1000).metadata()
        self.assertEqual(plan.READ_AND_HASH, entries[plan.MODE_KEY])
        self.assertEqual(255, len(entries[plan.REASON_KEY]))


class ParentHashesTest(testtools.TestCase):

    def test_usable(self):
        self.assertIsNone(plan.parent_hashes_unusable(
            8 * BLOCK, BLOCK, BLOCK, GiB // BLOCK, GiB))

    def test_chunk_not_a_multiple(self):
        self.assertIn('not a multiple', plan.parent_hashes_unusable(
            8 * BLOCK + 1, BLOCK, BLOCK, GiB // BLOCK, GiB))

    def test_block_size_changed(self):
        self.assertIn('(65536, now 32768)', plan.parent_hashes_unusable(
            8 * BLOCK, BLOCK, 65536, GiB // BLOCK, GiB))

    def test_hash_count(self):
        self.assertIn('has 5 hashes, the volume %d blocks' % (GiB // BLOCK),
                      plan.parent_hashes_unusable(8 * BLOCK, BLOCK, BLOCK,
                                                  5, GiB))


class BlocksTest(testtools.TestCase):

    def test_block_count(self):
        self.assertEqual(1, plan.block_count(1, BLOCK))
        self.assertEqual(1, plan.block_count(BLOCK, BLOCK))
        self.assertEqual(2, plan.block_count(BLOCK + 1, BLOCK))

    def test_block_runs_align_and_merge(self):
        extents = [(0, 1), (BLOCK - 1, 2), (5 * BLOCK, BLOCK),
                   (6 * BLOCK, 10), (9 * BLOCK + 7, 1)]
        self.assertEqual([(0, 2), (5, 7), (9, 10)],
                         plan.block_runs(extents, BLOCK, 16 * BLOCK))

    def test_block_runs_short_last_block(self):
        size = 3 * BLOCK + 100
        self.assertEqual([(3, 4)],
                         plan.block_runs([(3 * BLOCK + 50, 50)], BLOCK, size))

    def test_no_extents(self):
        self.assertEqual([], plan.block_runs([], BLOCK, GiB))
        self.assertEqual({}, plan.runs_by_window([], 4))

    def test_runs_by_window(self):
        self.assertEqual({0: [(1, 2), (3, 4)], 1: [(4, 8)], 2: [(8, 9)],
                          3: [(14, 16)]},
                         plan.runs_by_window([(1, 2), (3, 9), (14, 16)], 4))

    def test_changed_runs(self):
        old = ['a', 'b', 'c', 'd', 'e']
        self.assertEqual([], plan.changed_runs(old, old))
        self.assertEqual([(0, 5)], plan.changed_runs(list('vwxyz'), old))
        self.assertEqual([(0, 1), (2, 4)],
                         plan.changed_runs(['x', 'b', 'y', 'z', 'e'], old))
        self.assertEqual([(4, 5)],
                         plan.changed_runs(['a', 'b', 'c', 'd', 'x'], old))
