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
"""The QEMU version floor for incremental snapshots.

QEMU 6.1 is the first with everything the jobs rely on (persistent bitmaps
in qcow2 v3, ``blockdev-backup`` with ``sync=incremental``/``bitmap``,
cross-node ``block-dirty-bitmap-merge``, ``qemu-storage-daemon``); Apache
CloudStack asks for the same floor.
"""

import re

MIN_QEMU = (6, 1, 0)

_VERSION = re.compile(r'version\s+(\d+)\.(\d+)(?:\.(\d+))?')


def parse(text):
    """(major, minor, micro) from ``qemu-img --version`` output."""
    match = _VERSION.search(text or '')
    if not match:
        raise ValueError('no QEMU version in %r' % (text,))
    return tuple(int(part or 0) for part in match.groups())


def text(version):
    return '.'.join(str(part) for part in version)


def _pad(version):
    # (6, 1) is 6.1.0; as plain tuples (6, 1) < (6, 1, 0).
    return (tuple(version) + (0, 0, 0))[:3]


def check(found, needed=MIN_QEMU):
    """None when ``found`` is new enough, else the error message."""
    if _pad(found) >= _pad(needed):
        return None
    return ('kvm_incremental_snapshot is enabled but QEMU %s is installed; '
            'incremental snapshots need QEMU >= %s'
            % (text(found), text(needed)))
