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
functional test. Domains are *transient* (``createXML``), like Nova's
running instances as libvirt sees them after a restart: they lose their
checkpoint metadata when they stop.

Content checks never trust a status: each volume has a *model*, a raw file
in which the test applies the same writes as it does to the running disk;
``qemu-img compare`` then checks a snapshot chain byte for byte against a
copy of the model taken when the snapshot was.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import fixtures
import libvirt
import libvirt_qemu
import testtools

from incsnap_driver.virt import connection

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
URI = 'qemu:///system'
MiB = 1024 * 1024
CLUSTER = 64 * 1024

_started = False


def start_libvirtd():
    """Run tools/start-libvirtd once per test process."""
    global _started
    if not _started:
        subprocess.run([os.path.join(TOP, 'tools', 'start-libvirtd')],
                       check=True)
        _started = True


def kvm_usable():
    try:
        fd = os.open('/dev/kvm', os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def run(*cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode:
        raise AssertionError('%s failed (%d): %s%s' % (
            ' '.join(cmd), result.returncode, result.stdout, result.stderr))
    return result.stdout


def image_info(path):
    return json.loads(run('qemu-img', 'info', '-U', '--output=json', path))


def image_bitmaps(path):
    """``{name: flags}`` of the persistent bitmaps in a qcow2 file."""
    data = image_info(path).get('format-specific', {}).get('data', {})
    return {b['name']: b['flags'] for b in data.get('bitmaps', [])}


def allocated_bytes(path):
    """Bytes of guest data stored in ``path`` itself (not its backing)."""
    extents = json.loads(run('qemu-img', 'map', '-U', '--output=json',
                             path))
    return sum(e['length'] for e in extents
               if e['depth'] == 0 and e['data'])


class Volume:
    """A qcow2 v3 volume file and its raw model."""

    def __init__(self, directory, name, size):
        self.name = name
        self.path = os.path.join(directory, name)
        self.model = os.path.join(directory, name + '.model')
        self.size = size
        run('qemu-img', 'create', '-q', '-f', 'qcow2', '-o', 'compat=1.1',
            self.path, str(size))
        with open(self.model, 'wb') as f:
            f.truncate(size)
        self._copies = 0

    def model_write(self, offset, length, byte):
        with open(self.model, 'r+b') as f:
            f.seek(offset)
            f.write(bytes([byte]) * length)

    def model_copy(self):
        """A copy of the model now: the expected content of a snapshot."""
        self._copies += 1
        copy = '%s.at%d' % (self.model, self._copies)
        shutil.copyfile(self.model, copy)
        return copy


class VirtTestCase(testtools.TestCase):
    """A fresh directory and libvirt connections for each test."""

    def setUp(self):
        super().setUp()
        start_libvirtd()
        self.useFixture(fixtures.Timeout(
            int(os.environ.get('OS_TEST_TIMEOUT', 600)), gentle=True))
        self.dir = tempfile.mkdtemp(prefix='incsnap-virt-')
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.libvirt = connection.open_connection(URI)
        self.addCleanup(self.libvirt.close)
        self.conn = self.libvirt.conn
        # libvirt_qemu needs an unproxied domain: a second, raw connection.
        self.raw = libvirt.open(URI)
        self.addCleanup(self.raw.close)
        self.token = uuid.uuid4().hex[:8]

    def make_volume(self, size=64 * MiB, name=None):
        return Volume(self.dir, name or 'volume-%s' % uuid.uuid4(), size)

    def domain_xml(self, name, dom_uuid, volumes, virt_type):
        disks = ''.join(
            "<disk type='file' device='disk'>"
            "<driver name='qemu' type='qcow2'/>"
            "<source file='%s'/><target dev='vd%s' bus='virtio'/>"
            "</disk>" % (v.path, chr(ord('a') + i))
            for i, v in enumerate(volumes))
        return (
            "<domain type='%s'><name>%s</name><uuid>%s</uuid>"
            "<memory unit='MiB'>128</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os>"
            "<on_poweroff>destroy</on_poweroff>"
            "<devices>%s<graphics type='vnc' listen='127.0.0.1' "
            "autoport='yes'/></devices></domain>"
            % (virt_type, name, dom_uuid, disks))

    def start_domain(self, volumes, dom_uuid=None, name=None):
        """Start a transient domain on ``volumes`` (vda, vdb, ...).

        Returns ``(domain proxy, uuid)``; destroyed at clean-up.
        """
        dom_uuid = dom_uuid or str(uuid.uuid4())
        name = name or 'incsnap-ft-%s-%s' % (self.token, dom_uuid[:8])
        types = ['kvm', 'qemu'] if kvm_usable() else ['qemu']
        for virt_type in types:
            try:
                dom = self.conn.createXML(
                    self.domain_xml(name, dom_uuid, volumes, virt_type), 0)
                break
            except libvirt.libvirtError:
                if virt_type == types[-1]:
                    raise
        self.addCleanup(self._destroy_quietly, dom_uuid)
        return dom, dom_uuid

    def _destroy_quietly(self, dom_uuid):
        try:
            self.raw.lookupByUUIDString(dom_uuid).destroy()
        except libvirt.libvirtError:
            pass

    def stop_cleanly(self, dom_uuid):
        """SIGTERM: QEMU closes its images and stores its bitmaps."""
        self.raw.lookupByUUIDString(dom_uuid).destroyFlags(
            libvirt.VIR_DOMAIN_DESTROY_GRACEFUL)

    def kill_qemu(self, dom_uuid):
        """SIGKILL the domain's QEMU: its images are not closed."""
        dom = self.raw.lookupByUUIDString(dom_uuid)
        with open('/run/libvirt/qemu/%s.pid' % dom.name()) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if not self.raw.lookupByUUIDString(dom_uuid).isActive():
                    return
            except libvirt.libvirtError:
                return
            time.sleep(0.1)
        self.fail('domain %s still runs after SIGKILL' % dom_uuid)

    def hmp(self, dom_uuid, command):
        dom = self.raw.lookupByUUIDString(dom_uuid)
        return libvirt_qemu.qemuMonitorCommand(
            dom, command, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)

    def qmp(self, dom_uuid, execute, **arguments):
        dom = self.raw.lookupByUUIDString(dom_uuid)
        command = {'execute': execute}
        if arguments:
            command['arguments'] = arguments
        return json.loads(libvirt_qemu.qemuMonitorCommand(
            dom, json.dumps(command), 0))['return']

    def write(self, dom_uuid, volume, offset, length, byte, disk_index=0):
        """Write into the running disk and into the model.

        ``length`` bytes ``byte`` at ``offset``, through the monitor's
        qemu-io.
        """
        out = self.hmp(
            dom_uuid,
            'qemu-io -d /machine/peripheral/virtio-disk%d/virtio-backend '
            '"write -q -P 0x%02x %d %d"' % (disk_index, byte, offset,
                                            length))
        if out.strip():
            self.fail('qemu-io write failed: %s' % out)
        volume.model_write(offset, length, byte)

    def flush(self, dom_uuid, disk_index=0):
        """Flush the disk as a guest would (qcow2 metadata to the file)."""
        out = self.hmp(
            dom_uuid,
            'qemu-io -d /machine/peripheral/virtio-disk%d/virtio-backend '
            '"flush"' % disk_index)
        if out.strip():
            self.fail('qemu-io flush failed: %s' % out)

    def throttle_backup(self, dom_uuid, bytes_per_second=MiB):
        """Slow the domain's running backup job down (block-job speed)."""
        jobs = self.qmp(dom_uuid, 'query-block-jobs')
        for job in jobs:
            self.qmp(dom_uuid, 'block-job-set-speed', device=job['device'],
                     speed=bytes_per_second)
        return len(jobs)

    def assert_same_content(self, top, model_copy):
        """The chain ending in ``top`` reads exactly as ``model_copy``."""
        result = subprocess.run(
            ['qemu-img', 'compare', '-U', '-f', 'qcow2', '-F', 'raw',
             top, model_copy], capture_output=True, text=True)
        self.assertEqual(0, result.returncode,
                         'content differs: %s%s' % (result.stdout,
                                                    result.stderr))

    def rebase(self, child, parent):
        """Unsafe rebase of ``child`` onto ``parent`` by relative path."""
        rel = os.path.relpath(parent, os.path.dirname(child))
        run('qemu-img', 'rebase', '-u', '-F', 'qcow2', '-b', rel, child)
