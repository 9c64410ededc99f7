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
"""The snapshot chain of one volume, and the plans made over it.

Everything here is plain data and plain functions: no I/O. The driver
gathers the facts (the chain document, what qemu-img or QEMU says about the
volume's bitmaps), asks for a plan, and carries it out.

The model (DESIGN.md §1-2):

* A *full* snapshot has no backing file; an *incremental* one holds only the
  clusters written since its parent and has the parent's file as backing
  file. ``depth`` is 1 for a full and parent depth + 1 for an incremental.
* The volume carries one persistent dirty bitmap per snapshot that can still
  serve as a parent, named by :func:`bitmap_name`. ``Chain.head`` is the
  snapshot whose bitmap the volume carries, i.e. the base of the next
  incremental; None when there is none.
* A deleted snapshot that others depend on stays as a *hidden* record (its
  file is kept) until its last dependent is gone.
"""

import dataclasses
import typing

BITMAP_PREFIX = 'incsnap-'
# Bitmaps of backups (incsnap_driver.ops.backup_point) share the prefix
# but are never a snapshot's: snapshot plans leave them alone.
BACKUP_BITMAP_PREFIX = 'incsnap-backup-'

FULL = 'full'
INCREMENTAL = 'incremental'

# Why a snapshot was full.
REASON_FIRST = 'first'
REASON_DISABLED = 'disabled'
REASON_DELTA_MAX = 'delta_max'
REASON_NOT_QCOW2_V3 = 'not_qcow2_v3'
REASON_PARENT_DELETED = 'parent_deleted'
REASON_PARENT_GONE = 'parent_gone'
REASON_BITMAP_MISSING = 'bitmap_missing'
REASON_BITMAP_INCONSISTENT = 'bitmap_inconsistent'
REASON_BITMAP_DISABLED = 'bitmap_disabled'

# How a revert is done.
REVERT_CHANGED = 'changed'
REVERT_FULL = 'full'

REASON_SIZE_CHANGED = 'size_changed'
REASON_NOT_HEAD = 'not_head'


def bitmap_name(snapshot_id):
    """Name of the bitmap (and libvirt checkpoint) of a snapshot."""
    return BITMAP_PREFIX + snapshot_id


def is_ours(bitmap):
    """A snapshot's bitmap (a backup's is not)."""
    return (bitmap.startswith(BITMAP_PREFIX) and
            not bitmap.startswith(BACKUP_BITMAP_PREFIX))


@dataclasses.dataclass
class SnapshotRecord:
    id: str
    file: str
    kind: str
    depth: int
    parent: typing.Optional[str] = None
    reason: typing.Optional[str] = None
    hidden: bool = False
    bitmap: typing.Optional[str] = None
    size: int = 0
    created_at: typing.Optional[str] = None
    checkpoint_xml: typing.Optional[str] = None
    mode: typing.Optional[str] = None  # 'offline' or 'online'


@dataclasses.dataclass
class Chain:
    """The chain document of one volume, in memory."""

    volume_id: str
    snapshots: list = dataclasses.field(default_factory=list)
    head: typing.Optional[str] = None
    journal: typing.Optional[dict] = None

    def get(self, snapshot_id):
        for record in self.snapshots:
            if record.id == snapshot_id:
                return record
        return None

    def children(self, snapshot_id):
        return [r for r in self.snapshots if r.parent == snapshot_id]

    def live(self):
        return [r for r in self.snapshots if not r.hidden]

    def newest_live(self):
        live = self.live()
        return live[-1] if live else None

    def lineage(self, snapshot_id):
        """The records from ``snapshot_id`` up to its full ancestor."""
        result = []
        record = self.get(snapshot_id)
        while record is not None:
            result.append(record)
            record = self.get(record.parent) if record.parent else None
        return result


@dataclasses.dataclass(frozen=True)
class BitmapState:
    """What the volume says about one bitmap.

    ``recording``: it records new writes (qemu-img flag ``auto``).
    ``consistent``: its content can be trusted (not left ``in-use`` by a
    QEMU that died, not flagged inconsistent by QEMU).
    """

    recording: bool = True
    consistent: bool = True


@dataclasses.dataclass(frozen=True)
class VolumeFacts:
    """Facts about the volume file gathered right before planning."""

    format: str = 'qcow2'
    qcow2_v3: bool = True
    size: int = 0
    bitmaps: dict = dataclasses.field(default_factory=dict)
    parent_file_present: bool = True

    @property
    def can_hold_bitmaps(self):
        return self.format == 'qcow2' and self.qcow2_v3


def bitmap_problem(state):
    """Why a bitmap (its BitmapState, or None) cannot list the changes."""
    if state is None:
        return REASON_BITMAP_MISSING
    if not state.consistent:
        return REASON_BITMAP_INCONSISTENT
    if not state.recording:
        return REASON_BITMAP_DISABLED
    return None


@dataclasses.dataclass(frozen=True)
class SnapshotPlan:
    kind: str
    depth: int
    parent: typing.Optional[str] = None
    reason: typing.Optional[str] = None
    # Bitmap used as the source of an incremental copy (the parent's).
    source_bitmap: typing.Optional[str] = None
    # Bitmap created atomically with the copy; None when not tracking.
    new_bitmap: typing.Optional[str] = None
    # Bitmaps of ours to remove from the volume once the copy succeeded.
    drop_bitmaps: tuple = ()


def plan_snapshot(chain, snapshot_id, policy, facts):
    """Decide whether the next snapshot is full or incremental.

    :param chain: the volume's :class:`Chain`.
    :param snapshot_id: id of the snapshot about to be taken.
    :param policy: resolved :class:`incsnap_driver.options.SnapshotPolicy`.
    :param facts: :class:`VolumeFacts` of the volume file.
    """
    ours = sorted(name for name in facts.bitmaps if is_ours(name))
    tracking = policy.incremental and facts.can_hold_bitmaps
    new_bitmap = bitmap_name(snapshot_id) if tracking else None
    stale = tuple(name for name in ours if name != new_bitmap)

    def full(reason):
        return SnapshotPlan(kind=FULL, depth=1, reason=reason,
                            new_bitmap=new_bitmap, drop_bitmaps=stale)

    if not policy.incremental:
        return full(REASON_DISABLED)
    if not facts.can_hold_bitmaps:
        return full(REASON_NOT_QCOW2_V3)
    parent = chain.newest_live()
    if parent is None:
        return full(REASON_FIRST)
    if parent.depth >= policy.delta_max:
        return full(REASON_DELTA_MAX)
    if chain.head != parent.id or not parent.bitmap:
        return full(REASON_PARENT_DELETED)
    if not facts.parent_file_present:
        return full(REASON_PARENT_GONE)
    problem = bitmap_problem(facts.bitmaps.get(parent.bitmap))
    if problem:
        return full(problem)
    return SnapshotPlan(kind=INCREMENTAL, depth=parent.depth + 1,
                        parent=parent.id, source_bitmap=parent.bitmap,
                        new_bitmap=new_bitmap, drop_bitmaps=stale)


@dataclasses.dataclass(frozen=True)
class DeletePlan:
    # Records whose files go now, the deleted one first, then the hidden
    # ancestors it was the last dependent of.
    remove: tuple = ()
    # The record kept as hidden because others depend on it.
    hide: typing.Optional[str] = None
    # The volume's bitmap base goes away with the removed records.
    clears_head: bool = False


def plan_delete(chain, snapshot_id):
    """What deleting a snapshot does to the chain.

    A snapshot unknown to the chain (its creation failed, or it was already
    deleted) needs nothing: deleting is idempotent.
    """
    record = chain.get(snapshot_id)
    if record is None or (record.hidden and chain.children(snapshot_id)):
        return DeletePlan()
    if chain.children(snapshot_id):
        return DeletePlan(hide=snapshot_id)
    remove = [snapshot_id]
    parent = chain.get(record.parent) if record.parent else None
    while (parent is not None and parent.hidden and
           [c.id for c in chain.children(parent.id)] == [remove[-1]]):
        remove.append(parent.id)
        parent = chain.get(parent.parent) if parent.parent else None
    return DeletePlan(remove=tuple(remove),
                      clears_head=chain.head in remove)


def apply_delete(chain, plan):
    """The chain after carrying out ``plan`` (records updated in place)."""
    if plan.hide:
        chain.get(plan.hide).hidden = True
    if plan.remove:
        chain.snapshots = [r for r in chain.snapshots
                           if r.id not in plan.remove]
    if plan.clears_head:
        chain.head = None
    return chain


@dataclasses.dataclass(frozen=True)
class RevertPlan:
    mode: str
    reason: typing.Optional[str] = None
    bitmap: typing.Optional[str] = None
    # Bitmap the volume carries afterwards (named after the snapshot), so
    # that the next snapshot can be an incremental child of it.
    new_bitmap: typing.Optional[str] = None
    drop_bitmaps: tuple = ()


def plan_revert(chain, snapshot_id, policy, facts):
    """How to make the volume byte-identical to snapshot ``snapshot_id``.

    ``changed``: the volume's bitmap for that snapshot lists every cluster
    written since; copying those back is enough. ``full``: otherwise.
    """
    record = chain.get(snapshot_id)
    if record is None:
        raise KeyError(snapshot_id)
    tracking = policy.incremental and facts.can_hold_bitmaps
    ours = sorted(name for name in facts.bitmaps if is_ours(name))

    def full(reason):
        new_bitmap = bitmap_name(snapshot_id) if tracking else None
        return RevertPlan(mode=REVERT_FULL, reason=reason,
                          new_bitmap=new_bitmap,
                          drop_bitmaps=tuple(ours))

    if not tracking:
        return full(REASON_DISABLED if not policy.incremental
                    else REASON_NOT_QCOW2_V3)
    if chain.head != snapshot_id or not record.bitmap:
        return full(REASON_NOT_HEAD)
    if record.size and facts.size and record.size != facts.size:
        return full(REASON_SIZE_CHANGED)
    problem = bitmap_problem(facts.bitmaps.get(record.bitmap))
    if problem:
        return full(problem)
    return RevertPlan(mode=REVERT_CHANGED, bitmap=record.bitmap,
                      new_bitmap=record.bitmap,
                      drop_bitmaps=tuple(n for n in ours
                                         if n != record.bitmap))
