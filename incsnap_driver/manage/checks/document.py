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
"""The chain document against itself: ids, kinds, depths, the head.

No file is involved: a record's file is judged by :mod:`.images` only when
:func:`has_safe_file` says its name is the one the driver gives it.
"""

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.manage.checks import model


def has_safe_file(record):
    """True when the record names exactly the file the driver gives it."""
    return layout.is_uuid(record.id) and record.file == layout.snapshot_file(
        record.id)


def check_records(chain, vid, folder_name='.'):
    """The chain document against itself (no files involved)."""
    problems = []
    ids = set()

    def add(severity, code, message, record=None):
        problems.append(model.Problem(
            severity, code, message, volume=vid,
            snapshot=record.id if record else None,
            file='%s/%s' % (folder_name, record.file if record and
                            has_safe_file(record)
                            else layout.CHAIN_DOCUMENT)))

    for record in chain.snapshots:
        if not layout.is_uuid(record.id):
            add(model.ERROR, 'bad_id', 'snapshot id %r in the chain '
                'document is not a UUID' % (record.id,))
            continue
        if record.id in ids:
            add(model.ERROR, 'duplicate_record', 'snapshot listed twice',
                record)
        ids.add(record.id)
        if not has_safe_file(record):
            add(model.ERROR, 'bad_file_name', 'record names file %r, '
                'expected %s' % (record.file,
                                 layout.snapshot_file(record.id)), record)
        if record.parent is not None and not layout.is_uuid(record.parent):
            add(model.ERROR, 'bad_id', 'parent id %r is not a UUID'
                % (record.parent,), record)
            continue
        if record.kind == chain_mod.FULL:
            if record.parent is not None:
                add(model.ERROR, 'full_with_parent', 'full snapshot has '
                    'parent %s' % record.parent, record)
            if record.depth != 1:
                add(model.ERROR, 'depth_wrong', 'full snapshot has depth '
                    '%r, expected 1' % (record.depth,), record)
        elif record.kind == chain_mod.INCREMENTAL:
            parent = chain.get(record.parent) if record.parent else None
            if parent is None:
                add(model.ERROR, 'parent_unknown', 'parent %s is not in '
                    'the chain' % record.parent, record)
            elif record.depth != parent.depth + 1:
                add(model.ERROR, 'depth_wrong', 'depth %r, expected parent '
                    '%s\'s depth %r + 1' % (record.depth, parent.id,
                                            parent.depth), record)
        else:
            add(model.ERROR, 'bad_kind', 'kind %r is neither full nor '
                'incremental' % (record.kind,), record)
        if record.hidden and not chain.children(record.id):
            add(model.ERROR, 'hidden_without_children', 'hidden snapshot '
                'has no dependent: its file should have been removed',
                record)
    if chain.head is not None:
        head = chain.get(chain.head)
        if head is None:
            add(model.ERROR, 'head_not_live', 'head %s is not in the chain'
                % (chain.head,))
        elif head.hidden:
            add(model.ERROR, 'head_not_live', 'head is a hidden (deleted) '
                'snapshot', head)
    return problems
