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
"""Minimal libvirt domains for tests: no guest OS, one or more disks.

A domain here is what the driver meets on a compute host: a running QEMU
(KVM when ``/dev/kvm`` works, plain emulation otherwise) whose virtio
disks are volume files. 128 MiB, one vCPU, VNC on 127.0.0.1, no OS
(DESIGN.md §3). Domains are *transient* (``createXML``) as Nova's running
instances look to libvirt after a restart: they lose their checkpoint
metadata when they stop. :meth:`Domains.define` makes a persistent one.

The system libvirtd is shared with other work on the machine: every
domain a :class:`Domains` makes has a name unique to it
(``<prefix>-<token>-<uuid[:8]>``), and only those are destroyed at
clean-up.

The XML is built from a :class:`Spec`, one part per section, so that a
boot kernel and initrd (``<os>``) or extra devices (a virtio-serial
channel for a guest agent, a serial console) are new fields and one line
in the part that builds their section, not a new builder.
"""

import dataclasses
import json
import os
import subprocess
import time
import typing
import uuid as uuidlib
from xml.etree import ElementTree as ET

import libvirt
import libvirt_qemu

from tests.common import processes

URI = 'qemu:///system'
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

_libvirtd_started = False


def start_libvirtd():
    """Run tools/start-libvirtd: virtlogd, libvirtd, until it answers.

    Also after libvirtd was stopped on purpose.
    """
    subprocess.run([os.path.join(TOP, 'tools', 'start-libvirtd')],
                   check=True)


def ensure_libvirtd():
    """:func:`start_libvirtd` once per test process."""
    global _libvirtd_started
    if not _libvirtd_started:
        start_libvirtd()
        _libvirtd_started = True


def kvm_usable():
    try:
        fd = os.open('/dev/kvm', os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def virt_types():
    """Domain types to try, best first."""
    return ['kvm', 'qemu'] if kvm_usable() else ['qemu']


@dataclasses.dataclass(frozen=True)
class Disk:
    """A file-backed virtio disk; targets follow the order (vda, vdb...)."""

    path: str
    format: str = 'qcow2'
    # None: libvirt's default; 'none' as Nova sets it on a share that
    # takes O_DIRECT (a tmpfs export does not).
    cache: typing.Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Boot:
    """Direct kernel boot: QEMU loads the kernel and initrd itself."""

    kernel: str
    initrd: str
    cmdline: str = ''


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a domain is made of: plain data, turned into XML by xml()."""

    name: str
    uuid: str
    disks: typing.Tuple[Disk, ...] = ()
    memory_mib: int = 128
    vcpus: int = 1
    boot: typing.Optional[Boot] = None
    # A virtio-serial channel org.qemu.guest_agent.0 (libvirt's socket).
    agent: bool = False
    # The first serial port (the guest's ttyS0) written to this file.
    console_log: typing.Optional[str] = None
    graphics: bool = True

    def xml(self, virt_type):
        dom = ET.Element('domain', type=virt_type)
        ET.SubElement(dom, 'name').text = self.name
        ET.SubElement(dom, 'uuid').text = self.uuid
        ET.SubElement(dom, 'memory', unit='MiB').text = str(self.memory_mib)
        ET.SubElement(dom, 'vcpu').text = str(self.vcpus)
        dom.append(self._os())
        ET.SubElement(dom, 'on_poweroff').text = 'destroy'
        dom.append(self._devices())
        return ET.tostring(dom, encoding='unicode')

    def _os(self):
        os_el = ET.Element('os')
        ET.SubElement(os_el, 'type', arch='x86_64').text = 'hvm'
        if self.boot:
            ET.SubElement(os_el, 'kernel').text = self.boot.kernel
            ET.SubElement(os_el, 'initrd').text = self.boot.initrd
            ET.SubElement(os_el, 'cmdline').text = self.boot.cmdline
        return os_el

    def _devices(self):
        devices = ET.Element('devices')
        for index, disk in enumerate(self.disks):
            devices.append(self._disk(index, disk))
        if self.console_log:
            serial = ET.SubElement(devices, 'serial', type='file')
            ET.SubElement(serial, 'source', path=self.console_log)
        if self.agent:
            channel = ET.SubElement(devices, 'channel', type='unix')
            ET.SubElement(channel, 'source', mode='bind')
            ET.SubElement(channel, 'target', type='virtio',
                          name='org.qemu.guest_agent.0')
        if self.graphics:
            ET.SubElement(devices, 'graphics', type='vnc',
                          listen='127.0.0.1', autoport='yes')
        return devices

    @staticmethod
    def _disk(index, disk):
        el = ET.Element('disk', type='file', device='disk')
        driver = ET.SubElement(el, 'driver', name='qemu', type=disk.format)
        if disk.cache:
            driver.set('cache', disk.cache)
        ET.SubElement(el, 'source', file=disk.path)
        ET.SubElement(el, 'target', dev='vd' + chr(ord('a') + index),
                      bus='virtio')
        return el


def _disks(disks):
    """Disks from Disk objects or plain paths (qcow2)."""
    return tuple(d if isinstance(d, Disk) else Disk(os.fspath(d))
                 for d in disks)


class Domain:
    """One test domain on a libvirt connection, found by its UUID."""

    def __init__(self, conn, spec):
        self.conn = conn
        self.spec = spec
        self.virt_type = None
        self._throttled = set()

    @property
    def uuid(self):
        return self.spec.uuid

    @property
    def name(self):
        return self.spec.name

    def lookup(self):
        """The libvirt domain (raises libvirtError when there is none)."""
        return self.conn.lookupByUUIDString(self.uuid)

    def start(self, types=None):
        """Create and start it (transient); returns the type that ran.

        ``types``: domain types to try in order (default :func:`virt_types`).
        """
        types = list(types or virt_types())
        self._throttled = set()
        for virt_type in types:
            try:
                self.conn.createXML(self.spec.xml(virt_type), 0)
            except libvirt.libvirtError:
                if virt_type == types[-1]:
                    raise
                continue
            self.virt_type = virt_type
            return virt_type

    def define(self, virt_type='qemu'):
        """Define it (persistent, not started)."""
        self.conn.defineXML(self.spec.xml(virt_type))
        self.virt_type = virt_type

    def undefine(self):
        try:
            self.lookup().undefine()
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise

    def is_active(self):
        try:
            return bool(self.lookup().isActive())
        except libvirt.libvirtError:
            return False

    def destroy(self, graceful=False):
        """Power off; returns once it no longer runs.

        With ``graceful``, SIGTERM only: QEMU closes its images and writes
        its bitmaps back. A domain not running is left as it is.
        """
        try:
            self.lookup().destroyFlags(
                libvirt.VIR_DOMAIN_DESTROY_GRACEFUL if graceful else 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN,
                                            libvirt.VIR_ERR_OPERATION_INVALID):
                raise
        self._wait_inactive(30)

    def qemu_pid(self):
        """The PID of the domain's QEMU (its command line names it)."""
        for pid in processes.pids_with_argument('guest=%s,' % self.name):
            if processes.runs_program(processes.cmdline(pid),
                                      'qemu-system'):
                return pid
        raise AssertionError('no QEMU runs domain %s' % self.name)

    def kill_qemu(self, timeout=30):
        """SIGKILL the domain's QEMU: its images are not closed."""
        processes.kill([self.qemu_pid()])
        if not self._wait_inactive(timeout):
            raise AssertionError('domain %s (%s) still runs after SIGKILL'
                                 % (self.name, self.uuid))

    def _wait_inactive(self, timeout):
        deadline = time.monotonic() + timeout
        while self.is_active():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    # -- the QEMU monitor --------------------------------------------------

    def hmp(self, command):
        """A human monitor command; returns what it printed."""
        return libvirt_qemu.qemuMonitorCommand(
            self.lookup(), command,
            libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)

    def qmp(self, execute, **arguments):
        """A QMP command; returns its ``return``, AssertionError if none."""
        command = {'execute': execute}
        if arguments:
            command['arguments'] = arguments
        reply = json.loads(libvirt_qemu.qemuMonitorCommand(
            self.lookup(), json.dumps(command), 0))
        if 'return' not in reply:
            raise AssertionError('QMP %s failed: %s' % (execute, reply))
        return reply['return']

    # -- reads slowed from the first byte -----------------------------------

    def throttle_reads(self, bytes_per_second, disk_index=0):
        """Limit QEMU's reads of a disk's file, before any job starts.

        A ``throttle`` filter node (``throttle-group`` object with a
        ``bps-read`` limit) goes between the disk's qcow2 node and its
        file node (``blockdev-add``, then ``blockdev-reopen`` of the
        qcow2 node onto it). Everything that reads the image's data goes
        through it: the guest's reads, and a backup job's reads from its
        first byte on, so a test that needs a job to be still running
        when it acts does not race the job (a block job's own speed can
        only be set once the job runs, and a small one may be over by
        then). Writes are not limited. libvirt 9.0 has no XML for such a
        filter (``<throttlefilters>`` came in libvirt 11.2), hence QMP;
        a domain started again comes back without it.

        ``bytes_per_second``: 0 lifts the limit (the node stays).
        """
        group = 'incsnap-throttle-%d' % disk_index
        if group in self._throttled:
            self.set_read_limit(bytes_per_second, disk_index)
            return
        fmt, storage = self._disk_nodes(disk_index)
        self.qmp('object-add', **{'qom-type': 'throttle-group', 'id': group,
                                  'limits': {'bps-read': bytes_per_second}})
        self.qmp('blockdev-add', driver='throttle', file=storage['node-name'],
                 **{'node-name': group, 'throttle-group': group})
        cache = fmt['cache']
        # Reopen: options not given go back to their defaults, so all the
        # ones libvirt gave the qcow2 node are given again.
        self.qmp('blockdev-reopen', options=[{
            'driver': fmt['drv'], 'node-name': fmt['node-name'],
            'read-only': fmt['ro'], 'file': group, 'backing': None,
            'cache': {'direct': cache['direct'],
                      'no-flush': cache['no-flush']}}])
        self._throttled.add(group)

    def set_read_limit(self, bytes_per_second, disk_index=0):
        """A new limit for :meth:`throttle_reads` (0: none), at once."""
        self.qmp('qom-set', path='incsnap-throttle-%d' % disk_index,
                 property='limits', value={'bps-read': bytes_per_second})

    def slow_block_jobs(self, bytes_per_second, disk_index=0):
        """Hand a throttled disk's running jobs over to their own speed.

        Each running block job gets ``bytes_per_second`` as its speed,
        then :meth:`throttle_reads`' limit is lifted: the job goes on at
        that speed, and the reads queued in the throttle node go at once,
        so that cancelling the job (a timeout, a destroyed domain) does
        not wait for them to drain at the limit. Call it once the job runs
        (:meth:`backup_jobs`); returns how many jobs there were.
        """
        jobs = self.qmp('query-block-jobs')
        for job in jobs:
            self.qmp('block-job-set-speed', device=job['device'],
                     speed=bytes_per_second)
        self.set_read_limit(0, disk_index)
        return len(jobs)

    def _disk_nodes(self, disk_index):
        """(qcow2 node, file node) of disk ``disk_index``, as QMP shows them.

        libvirt's device alias of vda is virtio-disk0, and so on.
        """
        qdev = '/machine/peripheral/virtio-disk%d/' % disk_index
        inserted = [b['inserted'] for b in self.qmp('query-block')
                    if b.get('qdev', '').startswith(qdev)]
        if not inserted:
            raise AssertionError('domain %s has no disk %d'
                                 % (self.name, disk_index))
        nodes = self.qmp('query-named-block-nodes', flat=True)
        fmt, = [n for n in nodes if n['node-name'] ==
                inserted[0]['node-name']]
        if fmt['backing_file_depth']:
            raise AssertionError('throttle_reads: disk %d of %s has a '
                                 'backing file' % (disk_index, self.name))
        storage, = [n for n in nodes if n['drv'] == 'file' and
                    n['file'] == inserted[0]['file']]
        return fmt, storage

    def backup_jobs(self):
        """QEMU's backup jobs of the domain (query-block-jobs entries)."""
        return [j for j in self.qmp('query-block-jobs')
                if j.get('type') == 'backup']


class Domains:
    """The domains of one test, on their own libvirt connection.

    ``add_cleanup`` is the test's ``addCleanup``: each domain is destroyed
    (or undefined) in its place on the test's clean-up stack, before what
    the test had set up before it (its disk files, the share).
    ``libvirt_qemu`` needs a connection of its own, not the driver's
    proxied one: this is it.
    """

    def __init__(self, add_cleanup, prefix, uri=URI):
        self.add_cleanup = add_cleanup
        self.prefix = prefix
        self.token = uuidlib.uuid4().hex[:8]
        self.uri = uri
        self.conn = libvirt.open(uri)
        add_cleanup(self.conn.close)
        self._known = {}

    def reconnect(self):
        """A new connection for every domain (libvirtd was restarted).

        The old one is closed at clean-up. Returns the new one.
        """
        self.conn = libvirt.open(self.uri)
        self.add_cleanup(self.conn.close)
        for domain in self._known.values():
            domain.conn = self.conn
        return self.conn

    def spec(self, disks, uuid=None, name=None, **extra):
        """A :class:`Spec`; ``extra``: its other fields (boot, agent...)."""
        uuid = uuid or str(uuidlib.uuid4())
        name = name or '%s-%s-%s' % (self.prefix, self.token, uuid[:8])
        return Spec(name=name, uuid=uuid, disks=_disks(disks), **extra)

    def start(self, disks, uuid=None, name=None, types=None, **extra):
        """A running transient domain on ``disks`` (vda, vdb, ...)."""
        domain = Domain(self.conn, self.spec(disks, uuid, name, **extra))
        self._remember(domain)
        domain.start(types)
        return domain

    def adopt(self, uuid, spec):
        """A domain that came here from elsewhere (migrated in).

        It is destroyed at clean-up like the ones started here.
        """
        domain = Domain(self.conn, spec)
        self._remember(domain)
        return domain

    def define(self, disks, uuid=None, name=None, virt_type='qemu'):
        """A persistent domain, defined and not started."""
        domain = Domain(self.conn, self.spec(disks, uuid, name))
        domain.define(virt_type)
        self.add_cleanup(domain.undefine)
        return domain

    def get(self, uuid):
        """The domain this test made last with that UUID."""
        return self._known[uuid]

    def _remember(self, domain):
        if domain.uuid not in self._known:
            self.add_cleanup(self._destroy_quietly, domain.uuid)
        self._known[domain.uuid] = domain

    def _destroy_quietly(self, uuid):
        try:
            self._known[uuid].lookup().destroy()
        except libvirt.libvirtError:
            pass
