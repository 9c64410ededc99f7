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
"""The ``chains`` command's table: one row per snapshot, with sizes."""

from incsnap_driver.manage.checks import model


def chain_rows(scan):
    """One dict per snapshot: the ``chains`` command's table."""
    chain = scan.chain
    if chain is None:
        return []
    own = {}
    for record in chain.snapshots:
        entry = scan.entries.get(record.file)
        own[record.id] = (entry.allocated if entry is not None and
                          entry.type == model.FILE else None)
    rows = []
    for record in chain.snapshots:
        total = 0
        for ancestor in _lineage(chain, record):
            size = own.get(ancestor.id)
            if size is None:
                total = None
                break
            total += size
        entry = scan.entries.get(record.file)
        rows.append({
            'id': record.id,
            'kind': record.kind,
            'parent': record.parent,
            'depth': record.depth,
            'hidden': bool(record.hidden),
            'head': record.id == chain.head,
            'own_bytes': own[record.id],
            'chain_bytes': total,
            'full_reason': record.reason,
            'mode': record.mode,
            'created_at': record.created_at,
            'file': record.file,
            'present': entry is not None,
        })
    return rows


def _lineage(chain, record):
    """The record and its ancestors; stops on a loop."""
    seen = set()
    while record is not None and record.id not in seen:
        seen.add(record.id)
        yield record
        record = chain.get(record.parent) if record.parent else None
