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
"""Real libvirtd + QEMU for the tests of incsnap_driver.virt.

Each test gets its own directory (readable by the ``libvirt-qemu`` user),
its own domain names and UUIDs, so tests run in parallel with any other
functional test. Domains (:mod:`tests.common.domains`) are *transient*,
like Nova's running instances as libvirt sees them after a restart: they
lose their checkpoint metadata when they stop.

Content checks never trust a status: each volume has a *model*, a raw file
in which the test applies the same writes as it does to the running disk;
``qemu-img compare`` then checks a snapshot chain byte for byte against a
copy of the model taken when the snapshot was.
"""

import os
import shutil
import tempfile
import uuid

import fixtures
import testtools

from incsnap_driver.virt import connection
from tests.common import commands
from tests.common import domains
from tests.common import guest_writes
from tests.common import images

URI = domains.URI
MiB = 1024 * 1024
CLUSTER = 64 * 1024

run = commands.run
image_info = images.info
image_bitmaps = images.bitmaps
allocated_bytes = images.allocated_bytes


class Volume:
    """A qcow2 v3 volume file and its raw model."""

    def __init__(self, directory, name, size):
        self.name = name
        self.path = os.path.join(directory, name)
        self.model = guest_writes.Model(
            os.path.join(directory, name + '.model'), size)
        self.size = size
        run('qemu-img', 'create', '-q', '-f', 'qcow2', '-o', 'compat=1.1',
            self.path, str(size))
        self._copies = 0

    def model_copy(self):
        """A copy of the model now: the expected content of a snapshot."""
        self._copies += 1
        return self.model.copy('%s.at%d' % (self.model.path, self._copies))


class VirtTestCase(testtools.TestCase):
    """A fresh directory and libvirt connections for each test."""

    def setUp(self):
        super().setUp()
        domains.ensure_libvirtd()
        self.useFixture(fixtures.Timeout(
            int(os.environ.get('OS_TEST_TIMEOUT', 600)), gentle=True))
        self.dir = tempfile.mkdtemp(prefix='incsnap-virt-')
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        # The driver's connection (what the code under test is given) ...
        self.libvirt = connection.open_connection(URI)
        self.addCleanup(self.libvirt.close)
        self.conn = self.libvirt.conn
        # ... and the test's own, which makes the domains.
        self.domains = domains.Domains(self.addCleanup, 'incsnap-ft', URI)

    def make_volume(self, size=64 * MiB, name=None):
        return Volume(self.dir, name or 'volume-%s' % uuid.uuid4(), size)

    def start_domain(self, volumes, dom_uuid=None):
        """Start a transient domain on ``volumes`` (vda, vdb, ...).

        Returns ``(domain, uuid)``; destroyed at clean-up.
        """
        dom = self.domains.start([v.path for v in volumes], dom_uuid)
        return dom, dom.uuid

    def stop_cleanly(self, dom_uuid):
        """SIGTERM: QEMU closes its images and stores its bitmaps."""
        self.domains.get(dom_uuid).destroy(graceful=True)

    def kill_qemu(self, dom_uuid):
        """SIGKILL the domain's QEMU: its images are not closed."""
        self.domains.get(dom_uuid).kill_qemu()

    def write(self, dom_uuid, volume, offset, length, byte, disk_index=0):
        """Write into the running disk (no flush) and into the model.

        ``length`` bytes ``byte`` at ``offset``, through the monitor's
        qemu-io.
        """
        guest_writes.guest_write(self.domains.get(dom_uuid), offset, length,
                                 byte, disk_index, flush=False)
        volume.model.write(offset, length, byte)

    def flush(self, dom_uuid, disk_index=0):
        """Flush the disk as a guest would (qcow2 metadata to the file)."""
        guest_writes.guest_flush(self.domains.get(dom_uuid), disk_index)

    def throttle_backup(self, dom_uuid, bytes_per_second=MiB):
        """Slow the domain's next backup job down from its first byte.

        Its reads of vda are limited (``Domain.throttle_reads``): call it
        before the job starts, then :meth:`slow_backup` once it runs.
        """
        self.domains.get(dom_uuid).throttle_reads(bytes_per_second)

    def slow_backup(self, dom_uuid, bytes_per_second=MiB):
        """The running job at its own speed, reads unlimited; how many."""
        return self.domains.get(dom_uuid).slow_block_jobs(bytes_per_second)

    def assert_same_content(self, top, model_copy):
        """The chain ending in ``top`` reads exactly as ``model_copy``."""
        images.assert_same_content(top, model_copy, 'qcow2', 'raw')

    def rebase(self, child, parent):
        """Unsafe rebase of ``child`` onto ``parent`` by relative path."""
        rel = os.path.relpath(parent, os.path.dirname(child))
        run('qemu-img', 'rebase', '-u', '-F', 'qcow2', '-b', rel, child)
