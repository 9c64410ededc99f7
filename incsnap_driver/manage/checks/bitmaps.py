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
"""The volume's persistent dirty bitmaps against the chain's head."""

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.manage.checks import model


def check_bitmaps(scan, offline=False):
    """The volume's bitmaps against the chain's head."""
    facts = scan.volume_image
    chain = scan.chain
    if facts is None or facts.error or chain is None:
        return []
    vid = scan.volume_id
    name = scan.volume_file
    problems = []
    by_name = {b.get('name'): b for b in facts.bitmaps}
    head = chain.get(chain.head) if chain.head else None
    wanted = chain_mod.bitmap_name(head.id) if head is not None else None
    if head is not None:
        bitmap = by_name.get(wanted)
        if bitmap is None:
            problems.append(model.Problem(
                model.ERROR, 'bitmap_missing', 'volume lacks bitmap %s of '
                'head snapshot %s: the next snapshot will be full' % (
                    wanted, head.id), volume=vid, snapshot=head.id,
                file=name))
        else:
            flags = bitmap.get('flags') or []
            if 'in-use' in flags:
                problems.append(_in_use_problem(scan, wanted, head.id,
                                                offline))
            if 'auto' not in flags:
                problems.append(model.Problem(
                    model.ERROR, 'bitmap_disabled', 'bitmap %s does not '
                    'record writes (no "auto" flag)' % wanted, volume=vid,
                    snapshot=head.id, file=name))
    for bitmap_name in sorted(by_name):
        if (bitmap_name and chain_mod.is_ours(bitmap_name) and
                bitmap_name != wanted):
            sid = bitmap_name[len(chain_mod.BITMAP_PREFIX):]
            problems.append(model.Problem(
                model.WARNING, 'stray_bitmap', 'bitmap %s is not the '
                'head\'s (head: %s); the driver removes it at the next '
                'snapshot' % (bitmap_name, chain.head), volume=vid,
                snapshot=sid if layout.is_uuid(sid) else None, file=name))
    return problems


def _in_use_problem(scan, bitmap, sid, offline):
    vid = scan.volume_id
    name = scan.volume_file
    if scan.open_by:
        return model.Problem(
            model.INFO, 'bitmap_in_use', 'bitmap %s is in-use: normal, the '
            'volume is open by %s' % (bitmap, ', '.join(scan.open_by)),
            volume=vid, snapshot=sid, file=name)
    if offline:
        return model.Problem(
            model.ERROR, 'bitmap_inconsistent', 'bitmap %s is in-use but no '
            'process has the volume open: inconsistent (a QEMU died); the '
            'next snapshot will be full' % bitmap, volume=vid, snapshot=sid,
            file=name)
    return model.Problem(
        model.WARNING, 'bitmap_in_use', 'bitmap %s is in-use and no process '
        'on this host has the volume open: normal if a VM on another host '
        'runs it, else inconsistent (check with --offline when no VM runs)'
        % bitmap, volume=vid, snapshot=sid, file=name)
