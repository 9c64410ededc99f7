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
"""A VM without Nova: a transient libvirt domain on an attached volume.

What Nova's libvirt driver does with an NFS volume's connection info, and
no more: the disk is ``<mount_point_base>/<md5 of export>/<name>`` (where
Nova's NFS volume driver mounts the share; on this stack the bind mount),
the domain's UUID is the attachment's instance UUID, so that the driver
finds it.  No guest OS: the guest's writes go through the QEMU monitor
(``qemu-io`` on the virtio disk's block backend), then a flush.
"""

import hashlib
import os
import time

import libvirt
import libvirt_qemu

URI = 'qemu:///system'


def kvm_usable():
    try:
        fd = os.open('/dev/kvm', os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def disk_path(connection_info):
    data = connection_info
    md5 = hashlib.md5(data['export'].encode()).hexdigest()
    return os.path.join(data['mount_point_base'], md5, data['name'])


class Guest(object):
    """A running (or stopped) domain with one virtio disk."""

    def __init__(self, instance_uuid, path, name):
        self.uuid = instance_uuid
        self.path = path
        self.name = name
        self.conn = libvirt.open(URI)

    def xml(self, virt_type):
        fmt = 'qcow2'
        return (
            "<domain type='%s'><name>%s</name><uuid>%s</uuid>"
            "<memory unit='MiB'>128</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices>"
            "<disk type='file' device='disk'><driver name='qemu' type='%s'"
            " cache='none'/><source file='%s'/>"
            "<target dev='vda' bus='virtio'/></disk>"
            "</devices></domain>"
            % (virt_type, self.name, self.uuid, fmt, self.path))

    def start(self):
        """A fresh transient domain (KVM when /dev/kvm works)."""
        types = ['kvm', 'qemu'] if kvm_usable() else ['qemu']
        for virt_type in types:
            try:
                self.conn.createXML(self.xml(virt_type), 0)
                return virt_type
            except libvirt.libvirtError:
                if virt_type == types[-1]:
                    raise

    def running(self):
        try:
            return bool(self.conn.lookupByUUIDString(self.uuid).isActive())
        except libvirt.libvirtError:
            return False

    def stop(self):
        """Power off (a transient domain is then gone)."""
        try:
            self.conn.lookupByUUIDString(self.uuid).destroy()
        except libvirt.libvirtError:
            return
        deadline = time.monotonic() + 30
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self):
        self.stop()
        self.conn.close()

    def hmp(self, command):
        dom = self.conn.lookupByUUIDString(self.uuid)
        out = libvirt_qemu.qemuMonitorCommand(
            dom, command, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        if out.strip():
            raise RuntimeError('monitor: %s -> %s' % (command, out))

    def write(self, offset, length, byte):
        """The guest writes ``byte`` * length at offset, then flushes."""
        dev = '/machine/peripheral/virtio-disk0/virtio-backend'
        self.hmp('qemu-io -d %s "write -q -P 0x%02x %d %d"'
                 % (dev, byte, offset, length))
        self.hmp('qemu-io -d %s "flush"' % dev)
