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
"""When a persistent dirty bitmap can be trusted: the rules in one place.

From the image header, as ``qemu-img info`` shows it (no QEMU has the
image open):

* flag ``auto``: the bitmap records writes (it is enabled);
* flag ``in-use``: a QEMU opened the image read-write and never closed it
  cleanly (it was killed, or the host crashed). The bitmap may miss writes:
  inconsistent. QEMU refuses to use such a bitmap for a backup and only
  lets it be removed.

From a QEMU that has the image open (``query-named-block-nodes`` or
``query-block``): each bitmap has ``recording`` and, when it was loaded
in-use, ``inconsistent: true``. A running QEMU always flags its open
bitmaps ``in-use`` in the header, so header flags say nothing about
consistency while a VM runs.
"""

from incsnap_driver import chain


def from_header(bitmap_list):
    """{name: BitmapState} from ``qemu-img info`` bitmaps (image closed)."""
    states = {}
    for bitmap in bitmap_list:
        flags = bitmap.get('flags') or []
        states[bitmap['name']] = chain.BitmapState(
            recording='auto' in flags,
            consistent='in-use' not in flags)
    return states


def from_qemu(dirty_bitmaps):
    """{name: BitmapState} from a running QEMU's ``dirty-bitmaps`` list."""
    states = {}
    for bitmap in dirty_bitmaps:
        if not bitmap.get('persistent', True):
            continue
        states[bitmap['name']] = chain.BitmapState(
            recording=bool(bitmap.get('recording', True)),
            consistent=not bitmap.get('inconsistent', False))
    return states
