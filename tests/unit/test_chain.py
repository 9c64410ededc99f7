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
"""The snapshot, delete and revert plans: plain data in, plain data out."""

import testtools

from incsnap_driver import chain as chain_mod
from tests.unit import chain_model as model

FULL = chain_mod.FULL
INC = chain_mod.INCREMENTAL
FOREIGN = model.FOREIGN
bm = chain_mod.bitmap_name


def _chain(records, head=None):
    return chain_mod.Chain(volume_id='vol', snapshots=list(records),
                           head=head)


def _two(head='b'):
    """a (full) <- b (incremental), b carries the volume's bitmap."""
    return _chain([model.record('a', bitmap=bm('a')),
                   model.record('b', depth=2, parent='a', bitmap=bm('b'))],
                  head=head)


class BitmapNameTest(testtools.TestCase):

    def test_names(self):
        self.assertEqual('incsnap-s1', bm('s1'))
        self.assertTrue(chain_mod.is_ours(bm('s1')))
        self.assertFalse(chain_mod.is_ours(FOREIGN))
        self.assertFalse(chain_mod.is_ours('incsnap'))


class PlanSnapshotFullTest(testtools.TestCase):
    """Each reason for a full snapshot, one at a time."""

    def _plan(self, chain, facts, pol=None, sid='c'):
        return chain_mod.plan_snapshot(chain, sid, pol or model.policy(),
                                       facts)

    def assertFull(self, reason, plan):
        self.assertEqual(FULL, plan.kind)
        self.assertEqual(reason, plan.reason)
        self.assertEqual(1, plan.depth)
        self.assertIsNone(plan.parent)
        self.assertIsNone(plan.source_bitmap)

    def test_first(self):
        plan = self._plan(_chain([]), model.facts(FOREIGN), sid='s1')
        self.assertFull(chain_mod.REASON_FIRST, plan)
        self.assertEqual(bm('s1'), plan.new_bitmap)
        self.assertEqual((), plan.drop_bitmaps)

    def test_disabled(self):
        plan = self._plan(_two(), model.facts(bm('b'), FOREIGN),
                          pol=model.policy(incremental=False))
        self.assertFull(chain_mod.REASON_DISABLED, plan)
        # Not tracking: no new bitmap, and ours would go stale: drop them.
        self.assertIsNone(plan.new_bitmap)
        self.assertEqual((bm('b'),), plan.drop_bitmaps)

    def test_disabled_wins_over_not_qcow2_v3(self):
        plan = self._plan(_two(), model.facts(qcow2_v3=False),
                          pol=model.policy(incremental=False))
        self.assertEqual(chain_mod.REASON_DISABLED, plan.reason)

    def test_not_qcow2_v3(self):
        plan = self._plan(_two(), model.facts(qcow2_v3=False))
        self.assertFull(chain_mod.REASON_NOT_QCOW2_V3, plan)
        self.assertIsNone(plan.new_bitmap)

    def test_raw_is_not_qcow2_v3(self):
        facts = model.facts(format='raw')
        self.assertFalse(facts.can_hold_bitmaps)
        plan = self._plan(_chain([]), facts)
        self.assertFull(chain_mod.REASON_NOT_QCOW2_V3, plan)
        self.assertIsNone(plan.new_bitmap)

    def test_not_qcow2_v3_even_without_parent(self):
        plan = self._plan(_chain([]), model.facts(qcow2_v3=False))
        self.assertEqual(chain_mod.REASON_NOT_QCOW2_V3, plan.reason)

    def test_delta_max(self):
        chain = _chain([
            model.record('a', bitmap=bm('a')),
            model.record('b', depth=2, parent='a', bitmap=bm('b')),
            model.record('c', depth=3, parent='b', bitmap=bm('c'))],
            head='c')
        plan = self._plan(chain, model.facts(bm('c')), sid='d')
        self.assertFull(chain_mod.REASON_DELTA_MAX, plan)
        self.assertEqual(bm('d'), plan.new_bitmap)
        self.assertEqual((bm('c'),), plan.drop_bitmaps)
        # One below the limit is still incremental.
        plan = self._plan(chain, model.facts(bm('c')), sid='d',
                          pol=model.policy(delta_max=4))
        self.assertEqual(INC, plan.kind)
        self.assertEqual(4, plan.depth)

    def test_delta_max_one_makes_every_snapshot_full(self):
        chain = _chain([model.record('a', bitmap=bm('a'))], head='a')
        plan = self._plan(chain, model.facts(bm('a')),
                          pol=model.policy(delta_max=1))
        self.assertFull(chain_mod.REASON_DELTA_MAX, plan)

    def test_parent_deleted_head_cleared(self):
        # The newest snapshot was deleted: its bitmap went with it; the one
        # before it no longer has a bitmap on the volume.
        plan = self._plan(_two(head=None), model.facts(bm('b')))
        self.assertFull(chain_mod.REASON_PARENT_DELETED, plan)

    def test_parent_deleted_newest_live_is_not_head(self):
        # The volume's bitmap belongs to an older snapshot (e.g. after a
        # revert to it), not to the newest live one.
        plan = self._plan(_two(head='a'), model.facts(bm('a')))
        self.assertFull(chain_mod.REASON_PARENT_DELETED, plan)

    def test_parent_without_bitmap(self):
        chain = _chain([model.record('a', bitmap=None)], head='a')
        plan = self._plan(chain, model.facts(bm('a')))
        self.assertFull(chain_mod.REASON_PARENT_DELETED, plan)

    def test_parent_gone(self):
        plan = self._plan(_two(), model.facts(bm('b'),
                                              parent_file_present=False))
        self.assertFull(chain_mod.REASON_PARENT_GONE, plan)

    def test_bitmap_missing(self):
        plan = self._plan(_two(), model.facts(bm('a'), FOREIGN))
        self.assertFull(chain_mod.REASON_BITMAP_MISSING, plan)
        self.assertEqual((bm('a'),), plan.drop_bitmaps)

    def test_bitmap_inconsistent(self):
        states = {bm('b'): chain_mod.BitmapState(consistent=False)}
        plan = self._plan(_two(), model.facts(bitmaps=states))
        self.assertFull(chain_mod.REASON_BITMAP_INCONSISTENT, plan)
        self.assertEqual((bm('b'),), plan.drop_bitmaps)

    def test_inconsistent_wins_over_disabled(self):
        states = {bm('b'): chain_mod.BitmapState(consistent=False,
                                                 recording=False)}
        plan = self._plan(_two(), model.facts(bitmaps=states))
        self.assertEqual(chain_mod.REASON_BITMAP_INCONSISTENT, plan.reason)

    def test_bitmap_disabled(self):
        states = {bm('b'): chain_mod.BitmapState(recording=False)}
        plan = self._plan(_two(), model.facts(bitmaps=states))
        self.assertFull(chain_mod.REASON_BITMAP_DISABLED, plan)


class PlanSnapshotIncrementalTest(testtools.TestCase):

    def test_incremental(self):
        facts = model.facts(bm('b'), FOREIGN)
        plan = chain_mod.plan_snapshot(_two(), 'c', model.policy(), facts)
        self.assertEqual(INC, plan.kind)
        self.assertIsNone(plan.reason)
        self.assertEqual('b', plan.parent)
        self.assertEqual(3, plan.depth)
        self.assertEqual(bm('b'), plan.source_bitmap)
        self.assertEqual(bm('c'), plan.new_bitmap)
        # The parent's bitmap is superseded by the new one.
        self.assertEqual((bm('b'),), plan.drop_bitmaps)

    def test_drop_bitmaps_ours_only_sorted_never_the_new_one(self):
        # Leftovers of ours (a crash, an old snapshot) next to a foreign
        # bitmap and one already named after this snapshot (a retry).
        facts = model.facts(bm('b'), bm('zz'), bm('aa'), bm('c'), FOREIGN,
                            'incsnap', 'other-incsnap-b')
        plan = chain_mod.plan_snapshot(_two(), 'c', model.policy(), facts)
        self.assertEqual(INC, plan.kind)
        self.assertEqual((bm('aa'), bm('b'), bm('zz')), plan.drop_bitmaps)
        self.assertNotIn(FOREIGN, plan.drop_bitmaps)
        self.assertNotIn(bm('c'), plan.drop_bitmaps)

    def test_foreign_bitmap_never_dropped_for_any_reason(self):
        cases = [
            (_chain([]), model.facts(FOREIGN), model.policy()),
            (_two(), model.facts(FOREIGN, bm('b')),
             model.policy(incremental=False)),
            (_two(), model.facts(FOREIGN, bm('b'), qcow2_v3=False),
             model.policy()),
            (_two(head=None), model.facts(FOREIGN, bm('b')), model.policy()),
        ]
        for chain, facts, pol in cases:
            plan = chain_mod.plan_snapshot(chain, 'c', pol, facts)
            self.assertNotIn(FOREIGN, plan.drop_bitmaps)
            ours = {n for n in facts.bitmaps if n != FOREIGN}
            self.assertEqual(ours, set(plan.drop_bitmaps))

    def test_hidden_records_are_not_parents(self):
        chain = _two()
        chain.snapshots.append(model.record('c', depth=3, parent='b',
                                            bitmap=bm('c')))
        chain.head = 'c'
        chain.get('b').hidden = True
        plan = chain_mod.plan_snapshot(chain, 'd', model.policy(delta_max=9),
                                       model.facts(bm('c')))
        self.assertEqual(('c', 4), (plan.parent, plan.depth))


class ReferenceSequenceTest(testtools.TestCase):
    """CloudStack's run with delta max 3: full, inc, inc, full, inc."""

    def test_reference_sequence(self):
        vol = model.Volume()
        pol = model.policy(delta_max=3)
        plans = [vol.snapshot('s%d' % i, pol) for i in range(1, 6)]
        self.assertEqual([FULL, INC, INC, FULL, INC],
                         [p.kind for p in plans])
        self.assertEqual([1, 2, 3, 1, 2], [p.depth for p in plans])
        self.assertEqual([None, 's1', 's2', None, 's4'],
                         [p.parent for p in plans])
        self.assertEqual([chain_mod.REASON_FIRST, None, None,
                          chain_mod.REASON_DELTA_MAX, None],
                         [p.reason for p in plans])
        self.assertEqual([None, bm('s1'), bm('s2'), None, bm('s4')],
                         [p.source_bitmap for p in plans])
        # The volume carries exactly the newest snapshot's bitmap, and the
        # foreign one survived every rotation.
        self.assertEqual({bm('s5'), FOREIGN}, set(vol.bitmaps))
        self.assertEqual('s5', vol.chain.head)

    def test_sequence_continues_after_leaf_delete(self):
        vol = model.Volume()
        pol = model.policy(delta_max=3)
        vol.snapshot('s1', pol)
        vol.snapshot('s2', pol)
        plan = vol.delete('s2')
        self.assertTrue(plan.clears_head)
        self.assertEqual({FOREIGN}, set(vol.bitmaps))
        plan = vol.snapshot('s3', pol)
        self.assertEqual((FULL, chain_mod.REASON_PARENT_DELETED),
                         (plan.kind, plan.reason))

    def test_sequence_continues_through_hidden_parent(self):
        vol = model.Volume()
        pol = model.policy(delta_max=3)
        vol.snapshot('s1', pol)
        vol.snapshot('s2', pol)
        self.assertEqual('s1', vol.delete('s1').hide)
        plan = vol.snapshot('s3', pol)
        self.assertEqual((INC, 's2', 3), (plan.kind, plan.parent,
                                          plan.depth))
        self.assertEqual(FULL, vol.snapshot('s4', pol).kind)


class PlanDeleteTest(testtools.TestCase):

    def test_leaf_that_is_head(self):
        chain = _two()
        plan = chain_mod.plan_delete(chain, 'b')
        self.assertEqual(('b',), plan.remove)
        self.assertIsNone(plan.hide)
        self.assertTrue(plan.clears_head)
        chain_mod.apply_delete(chain, plan)
        self.assertEqual(['a'], [r.id for r in chain.snapshots])
        self.assertIsNone(chain.head)
        self.assertFalse(chain.get('a').hidden)

    def test_leaf_that_is_not_head(self):
        chain = _chain([model.record('a', bitmap=bm('a')),
                        model.record('b', bitmap=bm('b'))], head='b')
        plan = chain_mod.plan_delete(chain, 'a')
        self.assertEqual(('a',), plan.remove)
        self.assertFalse(plan.clears_head)
        chain_mod.apply_delete(chain, plan)
        self.assertEqual(['b'], [r.id for r in chain.snapshots])
        self.assertEqual('b', chain.head)

    def test_parent_with_children_is_hidden(self):
        chain = _two()
        plan = chain_mod.plan_delete(chain, 'a')
        self.assertEqual((), plan.remove)
        self.assertEqual('a', plan.hide)
        self.assertFalse(plan.clears_head)
        chain_mod.apply_delete(chain, plan)
        self.assertEqual(['a', 'b'], [r.id for r in chain.snapshots])
        self.assertTrue(chain.get('a').hidden)
        self.assertFalse(chain.get('b').hidden)
        self.assertEqual('b', chain.head)
        self.assertEqual(['b'], [r.id for r in chain.live()])

    def test_cascade_through_several_hidden_ancestors(self):
        chain = _chain([
            model.record('a', bitmap=bm('a')),
            model.record('b', depth=2, parent='a', bitmap=bm('b')),
            model.record('c', depth=3, parent='b', bitmap=bm('c')),
            model.record('d', depth=4, parent='c', bitmap=bm('d'))],
            head='d')
        for sid in ('b', 'a', 'c'):
            plan = chain_mod.plan_delete(chain, sid)
            self.assertEqual((sid, ()), (plan.hide, plan.remove))
            chain_mod.apply_delete(chain, plan)
        plan = chain_mod.plan_delete(chain, 'd')
        # The deleted one first, then up the chain.
        self.assertEqual(('d', 'c', 'b', 'a'), plan.remove)
        self.assertTrue(plan.clears_head)
        chain_mod.apply_delete(chain, plan)
        self.assertEqual([], chain.snapshots)
        self.assertIsNone(chain.head)

    def test_cascade_stops_at_live_ancestor(self):
        chain = _chain([
            model.record('a', bitmap=bm('a')),
            model.record('b', depth=2, parent='a', hidden=True),
            model.record('c', depth=3, parent='b', bitmap=bm('c'))],
            head='c')
        plan = chain_mod.plan_delete(chain, 'c')
        self.assertEqual(('c', 'b'), plan.remove)
        chain_mod.apply_delete(chain, plan)
        self.assertEqual(['a'], [r.id for r in chain.snapshots])

    def test_cascade_stops_at_hidden_ancestor_with_another_child(self):
        chain = _chain([
            model.record('a', hidden=True),
            model.record('b', depth=2, parent='a'),
            model.record('c', depth=2, parent='a')])
        plan = chain_mod.plan_delete(chain, 'b')
        self.assertEqual(('b',), plan.remove)
        chain_mod.apply_delete(chain, plan)
        self.assertTrue(chain.get('a').hidden)
        plan = chain_mod.plan_delete(chain, 'c')
        self.assertEqual(('c', 'a'), plan.remove)

    def test_unknown_id_is_a_no_op(self):
        chain = _two()
        before = [r.id for r in chain.snapshots]
        plan = chain_mod.plan_delete(chain, 'nope')
        self.assertEqual(chain_mod.DeletePlan(), plan)
        chain_mod.apply_delete(chain, plan)
        self.assertEqual(before, [r.id for r in chain.snapshots])
        self.assertEqual('b', chain.head)

    def test_deleting_twice_is_a_no_op(self):
        chain = _two()
        chain_mod.apply_delete(chain, chain_mod.plan_delete(chain, 'b'))
        self.assertEqual(chain_mod.DeletePlan(),
                         chain_mod.plan_delete(chain, 'b'))

    def test_already_hidden_is_a_no_op(self):
        chain = _two()
        chain_mod.apply_delete(chain, chain_mod.plan_delete(chain, 'a'))
        plan = chain_mod.plan_delete(chain, 'a')
        self.assertEqual(chain_mod.DeletePlan(), plan)
        chain_mod.apply_delete(chain, plan)
        self.assertEqual(['a', 'b'], [r.id for r in chain.snapshots])
        self.assertTrue(chain.get('a').hidden)

    def test_clears_head_only_when_head_removed(self):
        chain = _chain([model.record('a', bitmap=bm('a')),
                        model.record('b', depth=2, parent='a',
                                     hidden=True),
                        model.record('c', depth=3, parent='b')], head='a')
        plan = chain_mod.plan_delete(chain, 'c')
        self.assertEqual(('c', 'b'), plan.remove)
        self.assertFalse(plan.clears_head)


class PlanRevertTest(testtools.TestCase):

    def _chain(self):
        chain = _two()
        chain.get('b').size = 1024
        return chain

    def _plan(self, facts, pol=None, chain=None, sid='b'):
        return chain_mod.plan_revert(chain or self._chain(), sid,
                                     pol or model.policy(), facts)

    def assertFull(self, reason, plan, new_bitmap=bm('b')):
        self.assertEqual(chain_mod.REVERT_FULL, plan.mode)
        self.assertEqual(reason, plan.reason)
        self.assertIsNone(plan.bitmap)
        self.assertEqual(new_bitmap, plan.new_bitmap)

    def test_changed(self):
        facts = model.facts(bm('b'), bm('a'), FOREIGN, size=1024)
        plan = self._plan(facts)
        self.assertEqual(chain_mod.REVERT_CHANGED, plan.mode)
        self.assertIsNone(plan.reason)
        self.assertEqual(bm('b'), plan.bitmap)
        self.assertEqual(bm('b'), plan.new_bitmap)
        self.assertEqual((bm('a'),), plan.drop_bitmaps)

    def test_changed_when_sizes_unknown(self):
        chain = self._chain()
        chain.get('b').size = 0
        plan = self._plan(model.facts(bm('b'), size=2048), chain=chain)
        self.assertEqual(chain_mod.REVERT_CHANGED, plan.mode)

    def test_disabled(self):
        plan = self._plan(model.facts(bm('b'), FOREIGN, size=1024),
                          pol=model.policy(incremental=False))
        self.assertFull(chain_mod.REASON_DISABLED, plan, new_bitmap=None)
        self.assertEqual((bm('b'),), plan.drop_bitmaps)

    def test_not_qcow2_v3(self):
        plan = self._plan(model.facts(size=1024, qcow2_v3=False))
        self.assertFull(chain_mod.REASON_NOT_QCOW2_V3, plan,
                        new_bitmap=None)

    def test_not_head(self):
        plan = self._plan(model.facts(bm('a'), bm('b'), FOREIGN),
                          sid='a')
        self.assertFull(chain_mod.REASON_NOT_HEAD, plan,
                        new_bitmap=bm('a'))
        self.assertEqual((bm('a'), bm('b')), plan.drop_bitmaps)

    def test_head_without_bitmap(self):
        chain = self._chain()
        chain.get('b').bitmap = None
        plan = self._plan(model.facts(bm('b'), size=1024), chain=chain)
        self.assertFull(chain_mod.REASON_NOT_HEAD, plan)

    def test_size_changed(self):
        plan = self._plan(model.facts(bm('b'), size=4096))
        self.assertFull(chain_mod.REASON_SIZE_CHANGED, plan)
        self.assertEqual((bm('b'),), plan.drop_bitmaps)

    def test_bitmap_missing(self):
        plan = self._plan(model.facts(FOREIGN, size=1024))
        self.assertFull(chain_mod.REASON_BITMAP_MISSING, plan)
        self.assertEqual((), plan.drop_bitmaps)

    def test_bitmap_inconsistent(self):
        states = {bm('b'): chain_mod.BitmapState(consistent=False)}
        plan = self._plan(model.facts(bitmaps=states, size=1024))
        self.assertFull(chain_mod.REASON_BITMAP_INCONSISTENT, plan)

    def test_bitmap_disabled(self):
        states = {bm('b'): chain_mod.BitmapState(recording=False)}
        plan = self._plan(model.facts(bitmaps=states, size=1024))
        self.assertFull(chain_mod.REASON_BITMAP_DISABLED, plan)

    def test_unknown_snapshot(self):
        self.assertRaises(KeyError, self._plan, model.facts(), sid='zz')
