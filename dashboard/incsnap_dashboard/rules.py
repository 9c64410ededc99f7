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
"""When Cinder reverts a volume to a snapshot (microversion 3.40).

Cinder takes a revert only to the newest snapshot of the volume (by
creation time, whatever that snapshot's status), when the volume is
``available``, the snapshot ``available`` and the volume still has the
size the snapshot was taken at.  :func:`refusal` says, before asking
Cinder, why a revert would be refused, so that the dashboard shows the
reason instead of an action that fails.  Plain data: the volume and the
snapshots as :class:`Volume` and :class:`Snapshot`.
"""

import dataclasses
import typing

REVERT_MICROVERSION = '3.40'


@dataclasses.dataclass(frozen=True)
class Volume:
    id: str
    status: str
    size: int
    name: typing.Optional[str] = None

    @property
    def label(self):
        return self.name or self.id


@dataclasses.dataclass(frozen=True)
class Snapshot:
    id: str
    volume_id: str
    status: str
    size: int
    created_at: typing.Optional[str] = None
    name: typing.Optional[str] = None

    @property
    def label(self):
        return self.name or self.id


def newest(snapshots):
    """The snapshot Cinder calls the latest one: created last.

    ISO 8601 times of one API compare as strings; ties (same second)
    go to the greater id, as a stable choice.
    """
    snapshots = list(snapshots)
    if not snapshots:
        return None
    return max(snapshots, key=lambda s: (s.created_at or '', s.id))


def volume_refusal(volume, snapshots):
    """A revert of ``volume`` to its newest snapshot: (snapshot, refusal).

    The snapshot is None when the volume has none; the refusal as
    :func:`refusal`'s, None when the revert is allowed.
    """
    latest = newest(s for s in snapshots if s.volume_id == volume.id)
    if latest is None:
        return None, ('Volume %s has no snapshot to revert to.'
                      % volume.label)
    return latest, refusal(volume, latest, snapshots)


def refusal(volume, snapshot, snapshots):
    """Why Cinder would refuse reverting ``volume`` to ``snapshot``.

    ``snapshots``: every snapshot of the volume (the one asked for among
    them).  Returns None when the revert is allowed, else a sentence.
    """
    if volume is None:
        return 'The volume of this snapshot is not visible.'
    if snapshot.volume_id != volume.id:
        return 'Snapshot %s is not a snapshot of volume %s.' % (
            snapshot.label, volume.id)
    if snapshot.status != 'available':
        return ('Snapshot %s is %s; only an available snapshot can be '
                'reverted to.' % (snapshot.label, snapshot.status))
    latest = newest(s for s in snapshots if s.volume_id == volume.id)
    if latest is not None and latest.id != snapshot.id:
        return ('Only the newest snapshot of a volume can be reverted to; '
                'the newest is %s.' % latest.label)
    if volume.status != 'available':
        return ('The volume is %s; it must be available (detached) to be '
                'reverted.' % volume.status)
    if volume.size != snapshot.size:
        return ('The volume is %d GiB but the snapshot was taken at %d GiB; '
                'Cinder reverts only at the same size.'
                % (volume.size, snapshot.size))
    return None
