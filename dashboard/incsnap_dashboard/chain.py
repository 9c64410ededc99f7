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
"""What the driver tells about a snapshot's place in its chain.

The incsnap driver sets snapshot metadata (Cinder shows it as the
snapshot's properties): ``incsnap:kind`` (full or incremental),
``incsnap:chain_depth``, ``incsnap:parent`` (the snapshot an incremental
builds on) and ``incsnap:full_reason`` (why a snapshot is full).  A
snapshot of another backend has none of them: everything is blank.
Plain functions over plain data, no Django.
"""

import dataclasses
import typing

PREFIX = 'incsnap:'
PROGRESS_KEY = 'os-extended-snapshot-attributes:progress'

# What the driver's reason codes (incsnap_driver.chain.REASON_*) mean.
FULL_REASONS = {
    'first': 'first snapshot of the volume',
    'disabled': 'incremental snapshots are disabled',
    'delta_max': 'chain reached its maximum depth',
    'not_qcow2_v3': 'volume file is not qcow2 v3',
    'parent_deleted': 'previous snapshot was deleted',
    'parent_gone': 'previous snapshot is gone',
    'bitmap_missing': 'change bitmap missing',
    'bitmap_inconsistent': 'change bitmap inconsistent',
    'bitmap_disabled': 'change bitmap disabled',
    'size_changed': 'volume size changed',
    'not_head': 'volume was reverted to an older snapshot',
}


@dataclasses.dataclass(frozen=True)
class ChainInfo:
    """A snapshot's chain facts; None where the driver said nothing."""

    kind: typing.Optional[str] = None
    depth: typing.Optional[int] = None
    parent: typing.Optional[str] = None
    full_reason: typing.Optional[str] = None

    @property
    def known(self):
        return self.kind is not None

    @property
    def reason_text(self):
        """The reason for a full as a person reads it (code if unknown)."""
        if self.full_reason is None:
            return None
        return FULL_REASONS.get(self.full_reason, self.full_reason)


def chain_info(metadata):
    """The :class:`ChainInfo` in a snapshot's metadata (a dict or None).

    Values the driver did not write (a depth that is no number) count as
    absent rather than failing the page.
    """
    md = metadata or {}
    depth = md.get(PREFIX + 'chain_depth')
    try:
        depth = int(depth) if depth is not None else None
    except (TypeError, ValueError):
        depth = None
    return ChainInfo(kind=md.get(PREFIX + 'kind') or None,
                     depth=depth,
                     parent=md.get(PREFIX + 'parent') or None,
                     full_reason=md.get(PREFIX + 'full_reason') or None)


def progress(fields):
    """The progress Cinder reports for a snapshot (``'42%'``), or None.

    ``fields``: the snapshot as the API returned it (a dict).
    """
    value = (fields or {}).get(PROGRESS_KEY)
    if value in (None, ''):
        return None
    value = str(value).strip()
    return value if value.endswith('%') else value + '%'
