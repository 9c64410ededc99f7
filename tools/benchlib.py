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
"""What the benchmarks in tools/ share (not a test helper, not installed).

Plain helpers over the QEMU tools and the all-in-one stack's API:
writing into a detached volume's file as a guest would (:func:`scatter`,
:func:`fill`), dropping the page cache, percentiles, sizes for humans,
and :class:`Cloud`, the stack's admin through openstacksdk with the
waits "POST -> settled" every benchmark times the same way.
"""

import json
import os
import subprocess
import time

KiB = 1024
MiB = KiB ** 2
GiB = KiB ** 3
TiB = KiB ** 4
CLUSTER = 64 * KiB
POLL = 0.05
# qemu-io runs its -c commands in order, in one process; batched so that
# a command line stays well below the kernel's limit.
QEMU_IO_BATCH = 4000


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def drop_caches():
    """Write back and drop the page cache; False when not permitted."""
    os.sync()
    try:
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('3\n')
        return True
    except OSError:
        return False


def percentile(values, pct):
    ordered = sorted(values)
    index = min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def human(size):
    if size >= TiB:
        return '%d TiB' % (size // TiB)
    return '%d GiB' % (size // GiB)


def clusters(rng, virtual_size, nbytes):
    """``nbytes`` worth of distinct random 64 KiB cluster indexes, sorted."""
    return sorted(rng.sample(range(virtual_size // CLUSTER),
                             nbytes // CLUSTER))


def write_clusters(path, indexes, byte, fmt='qcow2'):
    """Write pattern ``byte`` into the 64 KiB clusters ``indexes``."""
    for start in range(0, len(indexes), QEMU_IO_BATCH):
        cmd = ['qemu-io', '-f', fmt]
        for c in indexes[start:start + QEMU_IO_BATCH]:
            cmd += ['-c', 'write -q -P 0x%02x %d %d'
                    % (byte, c * CLUSTER, CLUSTER)]
        run(*(cmd + [path]))


def scatter(path, virtual_size, nbytes, rng, byte, fmt='qcow2'):
    """Rewrite ``nbytes`` in distinct random 64 KiB clusters."""
    write_clusters(path, clusters(rng, virtual_size, nbytes), byte, fmt)


def fill(path, size, first_byte, fmt='qcow2', chunk=256 * MiB):
    """Write the whole of ``size``, one pattern per ``chunk``."""
    byte = first_byte
    cmd = ['qemu-io', '-f', fmt]
    for off in range(0, size, chunk):
        cmd += ['-c', 'write -q -P 0x%02x %d %d'
                % (byte, off, min(chunk, size - off))]
        byte = byte % 0xf0 + 1
    run(*(cmd + [path]))
    return byte


def image_format(path):
    """The format qemu-img finds in ``path`` (raw, qcow2)."""
    out = subprocess.run(['qemu-img', 'info', '-U', '--output=json', path],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)['format']


class Settled(Exception):
    """A resource ended in error instead of the state waited for."""


class Cloud:
    """The stack's admin (openstacksdk), and the waits benchmarks time.

    Every wait polls every :data:`POLL` seconds, so a time "POST ->
    settled" is the API's view of the operation, up to that resolution.
    """

    def __init__(self, aio_dir):
        import openstack
        os.environ['OS_CLIENT_CONFIG_FILE'] = os.path.join(aio_dir,
                                                           'clouds.yaml')
        self.conn = openstack.connect(cloud='incsnap-aio')
        self.bs = self.conn.block_storage
        self.quotas = None

    def lift_quotas(self):
        """Volume quotas of the admin project unlimited until restored.

        The stack keeps Cinder's defaults (10 snapshots).
        """
        project = self.conn.current_project_id
        old = self.conn.get_volume_quotas(project)
        self.quotas = {k: old[k] for k in ('volumes', 'snapshots',
                                           'gigabytes')}
        self.conn.set_volume_quotas(project, volumes=-1, snapshots=-1,
                                    gigabytes=-1)

    def restore_quotas(self):
        if self.quotas:
            self.conn.set_volume_quotas(self.conn.current_project_id,
                                        **self.quotas)
            self.quotas = None

    def wait(self, get, ident, want, timeout=1800):
        """Poll ``get(ident)`` until its status is ``want``.

        ``want`` None: until it is gone (not found). Returns the seconds
        waited.
        """
        import openstack
        started = time.monotonic()
        while True:
            try:
                obj = get(ident)
            except openstack.exceptions.ResourceNotFound:
                if want is None:
                    return time.monotonic() - started
                raise
            if want is not None and obj.status == want:
                return time.monotonic() - started
            if obj.status.startswith('error'):
                raise Settled('%s is %s' % (ident, obj.status))
            if time.monotonic() - started > timeout:
                raise Settled('%s still %s after %d s'
                              % (ident, obj.status, timeout))
            time.sleep(POLL)

    def volume_settled(self, vid, want='available'):
        return self.wait(self.bs.get_volume, vid, want)

    def snapshot_settled(self, sid, want='available'):
        return self.wait(self.bs.get_snapshot, sid, want)
