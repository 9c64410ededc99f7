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
"""Find the running domain of an instance and the volume's disk in it.

Nova defines each instance's libvirt domain with the instance UUID as the
domain UUID, so the attachment's instance UUID finds the domain. A domain
that is not defined on the host, or defined but not running (no QEMU
process: nothing holds the volume open), gives ``None``: the driver then
takes the offline path. A paused domain is running (QEMU has the image
open and block jobs run while vCPUs are paused).

The disk is found by the basename of its ``<source file=...>`` in the live
domain XML: the share may be mounted under another directory on the
compute host than on the Cinder host, so only the file name is compared
and the source path is returned as the compute host sees it.
"""

import dataclasses
import os
from xml.etree import ElementTree

import libvirt

from incsnap_driver.virt import errors


@dataclasses.dataclass(frozen=True)
class AttachedDisk:
    """A volume's disk in a running domain.

    ``domain``: the libvirt domain (a tpool proxy when the connection is);
    ``target``: the disk's target dev (``vda``), the name used in checkpoint
    and backup XML; ``source``: the image path on the compute host;
    ``driver_type``: the image format libvirt opened it with (``qcow2``);
    ``all_targets``: every disk target of the domain, in XML order (the
    checkpoint and backup XML list the other disks as excluded).
    """

    domain: object
    target: str
    source: str
    driver_type: str
    all_targets: tuple

    @property
    def domain_uuid(self):
        return self.domain.UUIDString()


def add_disks(parent, disk_target, all_targets, chosen, others):
    """Add ``<disks>`` under ``parent``, one ``<disk>`` per target.

    The volume's ``disk_target`` (put first when ``all_targets`` lacks it)
    gets the attributes ``chosen``; every other target gets ``others``, so
    that libvirt leaves it out (checkpoint and backup XML alike). Returns
    the volume's ``<disk>`` element.
    """
    disks = ElementTree.SubElement(parent, 'disks')
    targets = list(all_targets)
    if disk_target not in targets:
        targets.insert(0, disk_target)
    mine = None
    for target in targets:
        attrs = chosen if target == disk_target else others
        element = ElementTree.SubElement(disks, 'disk', name=target, **attrs)
        if target == disk_target:
            mine = element
    return mine


def find_running_domain(conn, instance_uuid):
    """The running domain whose UUID is ``instance_uuid``, else ``None``.

    ``conn`` is a libvirt connection (or its proxy). Errors other than
    "no such domain" propagate as ``libvirt.libvirtError``.
    """
    try:
        dom = conn.lookupByUUIDString(instance_uuid)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise
    try:
        if not dom.isActive():
            return None
    except libvirt.libvirtError as exc:
        # The domain went away between lookup and isActive().
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise
    return dom


def parse_disks(domain_xml):
    """The disks of a domain XML.

    Returns ``[(target, source_file or None, driver_type or None), ...]``
    of the ``<disk>`` elements of a domain XML (cdroms too: checkpoint and
    backup XML must exclude them explicitly), in document order.
    """
    root = ElementTree.fromstring(domain_xml)
    disks = []
    for disk in root.findall('./devices/disk'):
        target = disk.find('target')
        if target is None or not target.get('dev'):
            continue
        source = disk.find('source')
        path = None
        if source is not None and disk.get('type') == 'file':
            path = source.get('file')
        driver = disk.find('driver')
        disks.append((target.get('dev'), path,
                      driver.get('type') if driver is not None else None))
    return disks


def find_disk(dom, volume_file_name):
    """The :class:`AttachedDisk` of ``dom`` for ``volume_file_name``.

    The disk is the one whose source file's basename is
    ``volume_file_name`` (e.g. ``volume-<uuid>``).

    Raises :class:`errors.DiskNotFound` when no disk (or more than one)
    matches.
    """
    disks = parse_disks(dom.XMLDesc(0))
    matches = [d for d in disks
               if d[1] and os.path.basename(d[1]) == volume_file_name]
    if len(matches) != 1:
        raise errors.DiskNotFound(
            'Domain %s has %s disk with source file %s (disks: %s)' % (
                dom.UUIDString(), 'no' if not matches else 'more than one',
                volume_file_name,
                ', '.join('%s=%s' % (t, p) for t, p, _f in disks) or
                'none'))
    target, source, driver_type = matches[0]
    return AttachedDisk(domain=dom, target=target, source=source,
                        driver_type=driver_type,
                        all_targets=tuple(d[0] for d in disks))


def find_attached_disk(conn, instance_uuid, volume_file_name):
    """The volume's disk in the running domain of the instance.

    :func:`find_running_domain` + :func:`find_disk`: the volume's disk in
    the running domain of the instance, or ``None`` when the domain is not
    defined or not running. Raises :class:`errors.DiskNotFound` when the
    domain runs without that disk.
    """
    dom = find_running_domain(conn, instance_uuid)
    if dom is None:
        return None
    return find_disk(dom, volume_file_name)
