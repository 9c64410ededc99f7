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
"""A small in-memory volume driven by the pure plans of chain.py.

It does what the driver does with a plan (append the record, move the
head, add/drop bitmaps, remove files) without any I/O, so that tests can
run long sequences of snapshots and deletes and check the outcome.
"""

from incsnap_driver import chain as chain_mod
from incsnap_driver import options

FOREIGN = 'backup-tool-x'


def policy(incremental=True, delta_max=3):
    return options.SnapshotPolicy(incremental=incremental,
                                  delta_max=delta_max)


def record(sid, depth=1, parent=None, hidden=False, bitmap=None, size=0):
    return chain_mod.SnapshotRecord(
        id=sid, file='snapshot-%s.qcow2' % sid,
        kind=chain_mod.INCREMENTAL if parent else chain_mod.FULL,
        depth=depth, parent=parent, hidden=hidden, bitmap=bitmap, size=size)


def facts(*names, **kwargs):
    """VolumeFacts carrying healthy bitmaps ``names``."""
    bitmaps = {name: chain_mod.BitmapState() for name in names}
    bitmaps.update(kwargs.pop('bitmaps', {}))
    return chain_mod.VolumeFacts(bitmaps=bitmaps, **kwargs)


class Volume:
    """One volume: its chain, its bitmaps and the snapshot files on disk."""

    def __init__(self, volume_id='vol'):
        self.chain = chain_mod.Chain(volume_id=volume_id)
        # The foreign bitmap belongs to somebody else: it must survive.
        self.bitmaps = {FOREIGN: chain_mod.BitmapState()}
        self.files = set()
        self.removed = []
        self.plans = []

    def facts(self, **kwargs):
        return chain_mod.VolumeFacts(bitmaps=dict(self.bitmaps), **kwargs)

    def snapshot(self, sid, pol, **fact_kwargs):
        plan = chain_mod.plan_snapshot(self.chain, sid, pol,
                                       self.facts(**fact_kwargs))
        rec = chain_mod.SnapshotRecord(
            id=sid, file='snapshot-%s.qcow2' % sid, kind=plan.kind,
            depth=plan.depth, parent=plan.parent, reason=plan.reason,
            bitmap=plan.new_bitmap)
        self.chain.snapshots.append(rec)
        self.chain.head = sid if plan.new_bitmap else None
        for name in plan.drop_bitmaps:
            del self.bitmaps[name]
        if plan.new_bitmap:
            self.bitmaps[plan.new_bitmap] = chain_mod.BitmapState()
        self.files.add(rec.file)
        self.plans.append(plan)
        return plan

    def delete(self, sid):
        plan = chain_mod.plan_delete(self.chain, sid)
        for rid in plan.remove:
            name = self.chain.get(rid).file
            self.files.remove(name)
            self.removed.append(rid)
        chain_mod.apply_delete(self.chain, plan)
        if plan.clears_head:
            # What the driver does for a detached volume.
            for name in list(self.bitmaps):
                if chain_mod.is_ours(name):
                    del self.bitmaps[name]
        return plan
