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
"""Random sequences of snapshots and deletes keep the chain sound."""

import hypothesis
from hypothesis import strategies as st
import testtools

from incsnap_driver import chain as chain_mod
from tests.unit import chain_model as model

# What can happen to the head's bitmap between two snapshots.
_ACCIDENTS = (None, 'lost', 'inconsistent', 'disabled', 'parent_gone')

_snapshot_op = st.tuples(
    st.just('snap'),
    st.booleans() | st.just(True),          # incremental enabled (mostly)
    st.sampled_from(_ACCIDENTS) | st.none())  # an accident (rarely)
_delete_op = st.tuples(st.just('delete'), st.integers(0, 50))


class ChainPropertyTest(testtools.TestCase):

    def _check(self, vol, delta_max, deleted):
        chain = vol.chain
        ids = [r.id for r in chain.snapshots]
        self.assertEqual(len(ids), len(set(ids)))
        for rec in chain.snapshots:
            if rec.parent is None:
                self.assertEqual((chain_mod.FULL, 1), (rec.kind, rec.depth))
            else:
                parent = chain.get(rec.parent)
                self.assertIsNotNone(parent, 'parent of %s gone' % rec.id)
                self.assertEqual(chain_mod.INCREMENTAL, rec.kind)
                self.assertEqual(parent.depth + 1, rec.depth)
            self.assertLessEqual(rec.depth, delta_max)
            if rec.hidden:
                self.assertTrue(chain.children(rec.id),
                                'hidden %s has no dependent' % rec.id)
            # Hidden exactly when Cinder deleted it.
            self.assertEqual(rec.id in deleted, rec.hidden)
        self.assertTrue(chain.head is None or chain.get(chain.head))
        # The files on disk are exactly those of the chain's records.
        self.assertEqual({r.file for r in chain.snapshots}, vol.files)
        # Nothing removed that Cinder has not deleted.
        self.assertLessEqual(set(vol.removed), deleted)
        self.assertIn(model.FOREIGN, vol.bitmaps)

    def _accident(self, vol, accident):
        head = vol.chain.head
        name = chain_mod.bitmap_name(head) if head else None
        if name not in vol.bitmaps:
            return {}
        if accident == 'lost':
            del vol.bitmaps[name]
        elif accident == 'inconsistent':
            vol.bitmaps[name] = chain_mod.BitmapState(consistent=False)
        elif accident == 'disabled':
            vol.bitmaps[name] = chain_mod.BitmapState(recording=False)
        elif accident == 'parent_gone':
            return {'parent_file_present': False}
        return {}

    def _delete(self, vol, sid, deleted):
        live_before = {r.id for r in vol.chain.live()}
        hidden_before = {r.id for r in vol.chain.snapshots if r.hidden}
        removed_before = len(vol.removed)
        vol.delete(sid)
        deleted.add(sid)
        removed_now = set(vol.removed[removed_before:])
        # Only the deleted one and hidden ancestors may go; no live record
        # of another snapshot is ever removed.
        self.assertLessEqual(removed_now, {sid} | hidden_before)
        self.assertEqual(live_before - {sid},
                         {r.id for r in vol.chain.live()})

    @hypothesis.settings(max_examples=300, deadline=None, database=None)
    @hypothesis.given(
        delta_max=st.integers(1, 5),
        ops=st.lists(st.one_of(_snapshot_op, _delete_op), max_size=40),
        data=st.data())
    def test_random_snapshots_and_deletes(self, delta_max, ops, data):
        vol = model.Volume()
        created = []
        deleted = set()
        for op in ops:
            if op[0] == 'snap':
                _name, incremental, accident = op
                extra = self._accident(vol, accident)
                sid = 's%d' % len(created)
                before = dict(vol.bitmaps)
                plan = vol.snapshot(
                    sid, model.policy(incremental, delta_max), **extra)
                created.append(sid)
                if plan.kind == chain_mod.INCREMENTAL:
                    # The copy reads the parent's own, healthy bitmap.
                    self.assertEqual(chain_mod.bitmap_name(plan.parent),
                                     plan.source_bitmap)
                    self.assertEqual(chain_mod.BitmapState(),
                                     before[plan.source_bitmap])
                    self.assertNotIn('parent_file_present', extra)
            elif created:
                self._delete(vol, created[op[1] % len(created)], deleted)
            self._check(vol, delta_max, deleted)
        # Delete everything, in any order: every file goes, exactly once.
        for sid in data.draw(st.permutations(created)):
            self._delete(vol, sid, deleted)
            self._check(vol, delta_max, deleted)
        self.assertEqual([], vol.chain.snapshots)
        self.assertEqual(set(), vol.files)
        self.assertEqual(sorted(created), sorted(vol.removed))
        self.assertIsNone(vol.chain.head)
        self.assertEqual({model.FOREIGN}, set(vol.bitmaps))
