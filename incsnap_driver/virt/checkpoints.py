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
"""libvirt checkpoints of one volume's disk: build, redefine, read, delete.

A checkpoint is libvirt's name for a point in time of a running domain; for
a disk with ``checkpoint='bitmap'`` it is backed by a persistent dirty
bitmap in the qcow2 image. Facts verified on Debian 12 (libvirt 9.0,
QEMU 7.2), each one exercised by tests/functional/virt:

* QEMU writes a bitmap created while it runs into the qcow2 only when it
  closes the image cleanly (shutdown, SIGTERM from ``destroy``); while the
  image is open, bitmaps loaded from it are flagged ``in-use`` in the file.
  QEMU killed with SIGKILL leaves a new bitmap *missing* and a loaded one
  ``in-use``; the next QEMU loads such a bitmap as *inconsistent*.
* libvirt keeps no checkpoint metadata of a transient domain across a
  restart or migration, while the bitmaps stay in the image. A fresh
  ``checkpointCreateXML`` of that name then fails ("bitmap already
  exists"), so the saved XML is *redefined*
  (``VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE``).
* Redefining without ``..._REDEFINE_VALIDATE`` succeeds whatever the
  bitmap's state; with it, a missing bitmap and an inconsistent one both
  fail with ``VIR_ERR_CHECKPOINT_INCONSISTENT`` ("missing or broken
  bitmap"): libvirt does not tell them apart. An incremental
  ``backupBegin`` from a non-validated broken checkpoint fails the same
  way, before creating its target.
* A redefinition whose ``<parent>`` the domain does not know fails
  (``VIR_ERR_INVALID_ARG``): redefined XML is rebuilt without parent,
  without ``<domain>``, and with the disk's *current* target dev (the
  volume may now be ``vdb`` of another domain).
* ``virDomainCheckpointDelete`` (flags 0) removes the bitmap from QEMU and
  from the qcow2 image; deleting a checkpoint does not touch the bitmaps
  of the other checkpoints (each bitmap records every write since its own
  creation). It also removes an inconsistent bitmap. When the bitmap is
  missing it fails (``VIR_ERR_INTERNAL_ERROR``, "bitmap ... not found in
  backing chain"): only a metadata-only delete
  (``VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY``) clears such a stale
  checkpoint. That is the one place where metadata-only delete is needed.
"""

from xml.etree import ElementTree

import libvirt
from oslo_log import log as logging

from incsnap_driver.virt import domain
from incsnap_driver.virt import errors

LOG = logging.getLogger(__name__)

BITMAP_MISSING = 'bitmap_missing'
BITMAP_INCONSISTENT = 'bitmap_inconsistent'

_REDEFINE = libvirt.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE
# Since libvirt 6.10; the incremental floor (7.6.0) guarantees it.
_VALIDATE = getattr(libvirt, 'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE',
                    0)
_NO_DOMAIN = libvirt.VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN
_METADATA_ONLY = libvirt.VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY


def checkpoint_xml(name, disk_target, all_targets, bitmap=None,
                   creation_time=None):
    """Checkpoint XML for one disk.

    ``disk_target`` gets ``checkpoint='bitmap'`` with
    bitmap ``bitmap`` (default: ``name``), every other target of
    ``all_targets`` gets ``checkpoint='no'`` (libvirt would otherwise give
    every listed-nowhere disk a bitmap of its own).
    """
    root = ElementTree.Element('domaincheckpoint')
    ElementTree.SubElement(root, 'name').text = name
    if creation_time is not None:
        ElementTree.SubElement(root, 'creationTime').text = str(
            creation_time)
    domain.add_disks(root, disk_target, all_targets,
                     chosen={'checkpoint': 'bitmap', 'bitmap': bitmap or name},
                     others={'checkpoint': 'no'})
    return ElementTree.tostring(root, encoding='unicode')


def parse_checkpoint(xml):
    """Parse a checkpoint XML.

    Returns ``(name, creation_time or None, bitmap or None)``; ``bitmap``
    is the bitmap of its (single) ``checkpoint='bitmap'`` disk. Raises
    ``ValueError`` when several disks carry a bitmap.
    """
    root = ElementTree.fromstring(xml)
    name = root.findtext('name')
    created = root.findtext('creationTime')
    bitmaps = [d.get('bitmap') or name
               for d in root.findall('./disks/disk')
               if d.get('checkpoint', 'bitmap') == 'bitmap']
    if len(bitmaps) > 1:
        raise ValueError('checkpoint %s has bitmaps on %d disks; incsnap '
                         'checkpoints have one' % (name, len(bitmaps)))
    return (name, int(created) if created else None,
            bitmaps[0] if bitmaps else None)


def redefine_xml(saved_xml, disk_target, all_targets):
    """XML to redefine a saved checkpoint on the disk as it is now.

    Same name, creation time and bitmap; current target dev; no ``<parent>``,
    no ``<domain>``.
    """
    name, created, bitmap = parse_checkpoint(saved_xml)
    return checkpoint_xml(name, disk_target, all_targets, bitmap=bitmap,
                          creation_time=created)


def _lookup(dom, name):
    try:
        return dom.checkpointLookupByName(name, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_CHECKPOINT:
            return None
        raise


def exists(dom, name):
    """Whether the domain knows a checkpoint called ``name``."""
    return _lookup(dom, name) is not None


def get_xml(dom, name):
    """The checkpoint's XML without the domain definition.

    This is what the driver stores in the chain metadata to redefine it
    later. Raises :class:`errors.CheckpointError` when the domain does not
    know it.
    """
    cp = _lookup(dom, name)
    if cp is None:
        raise errors.CheckpointError('Domain %s has no checkpoint %s'
                                     % (dom.UUIDString(), name))
    return cp.getXMLDesc(_NO_DOMAIN)


def names_on_disk(disk):
    """Names of the domain's checkpoints that hold a bitmap on ``disk``.

    ``disk`` is an :class:`~incsnap_driver.virt.domain.AttachedDisk`.
    """
    names = []
    for cp in disk.domain.listAllCheckpoints(0):
        root = ElementTree.fromstring(cp.getXMLDesc(_NO_DOMAIN))
        for d in root.findall('./disks/disk'):
            if (d.get('name') == disk.target
                    and d.get('checkpoint') == 'bitmap'):
                names.append(root.findtext('name'))
    return names


def _error(dom, action, name, exc):
    return errors.CheckpointError('Cannot %s checkpoint %s of domain %s: %s'
                                  % (action, name, dom.UUIDString(), exc))


def _classify_and_discard(dom, xml, name):
    """Tell a missing bitmap from a broken one, after VALIDATE refused it.

    Leaves neither metadata nor a broken bitmap.

    Redefined without validation, a checkpoint whose bitmap exists (but is
    inconsistent) can be deleted normally, which also removes the broken
    bitmap from the image; one whose bitmap is missing cannot, and goes by
    a metadata-only delete.
    """
    try:
        dom.checkpointCreateXML(xml, _REDEFINE)
    except libvirt.libvirtError as exc:
        LOG.warning('Cannot redefine checkpoint %s without validation to '
                    'discard it: %s', name, exc)
        return BITMAP_INCONSISTENT
    cp = _lookup(dom, name)
    try:
        cp.delete(0)
        return BITMAP_INCONSISTENT
    except libvirt.libvirtError:
        cp.delete(_METADATA_ONLY)
        return BITMAP_MISSING


def ensure_checkpoint(disk, name, saved_xml):
    """Make sure the domain knows a usable checkpoint ``name`` on ``disk``.

    Usable: its bitmap can serve an incremental backup.

    ``disk`` is an :class:`~incsnap_driver.virt.domain.AttachedDisk`;
    ``saved_xml`` the XML stored when the checkpoint was made (from
    :func:`get_xml`; may be ``None`` when the domain still knows it).

    Unknown to the domain (restarted, migrated, volume re-attached), it is
    redefined from ``saved_xml`` with validation. Known, it is re-validated
    the same way (metadata-only delete, then validated redefinition): a
    checkpoint libvirt knows can still point at a bitmap that is gone, e.g.
    after the volume was detached, snapshotted offline and re-attached.

    Returns True when the checkpoint was redefined from ``saved_xml``,
    False when the domain knew it. Raises :class:`errors.CheckpointUnusable`
    with ``reason`` ``'bitmap_missing'`` or ``'bitmap_inconsistent'`` (the
    broken bitmap is removed and no checkpoint metadata is left: the next
    snapshot must be full), :class:`errors.CheckpointError` otherwise.
    """
    dom = disk.domain
    cp = _lookup(dom, name)
    if cp is not None:
        source = cp.getXMLDesc(_NO_DOMAIN)
    elif saved_xml:
        source = saved_xml
    else:
        raise errors.CheckpointError(
            'Domain %s does not know checkpoint %s and no saved XML was '
            'given to redefine it' % (dom.UUIDString(), name))
    xml = redefine_xml(source, disk.target, disk.all_targets)
    if parse_checkpoint(xml)[0] != name:
        raise errors.CheckpointError('Saved checkpoint XML is for %s, not %s'
                                     % (parse_checkpoint(xml)[0], name))
    if cp is not None:
        try:
            cp.delete(_METADATA_ONLY)
        except libvirt.libvirtError as exc:
            raise _error(dom, 'revalidate', name, exc)
    try:
        dom.checkpointCreateXML(xml, _REDEFINE | _VALIDATE)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_CHECKPOINT_INCONSISTENT:
            raise _error(dom, 'redefine', name, exc)
        reason = _classify_and_discard(dom, xml, name)
        raise errors.CheckpointUnusable(
            'Checkpoint %s of disk %s (%s) of domain %s is unusable: %s '
            '(libvirt: %s)' % (
                name, disk.target, disk.source, dom.UUIDString(),
                'its bitmap is missing from the image'
                if reason == BITMAP_MISSING else
                'its bitmap is inconsistent (QEMU died with it in use); '
                'the broken bitmap was removed', exc),
            reason=reason, checkpoint=name)
    LOG.debug('Checkpoint %s of domain %s %s', name, dom.UUIDString(),
              'revalidated' if cp is not None else 'redefined')
    return cp is None


def delete_checkpoint(disk, name, saved_xml=None):
    """Remove checkpoint ``name`` and its bitmap from ``disk``'s image.

    When the domain does not know it (restart, migration), it is first
    redefined (without validation) from ``saved_xml`` so that libvirt can
    remove the bitmap the image may still hold. Returns True when a bitmap
    was removed, False when there was none (only metadata was cleared).
    Raises :class:`errors.CheckpointError`.
    """
    dom = disk.domain
    cp = _lookup(dom, name)
    if cp is None:
        xml = redefine_xml(saved_xml, disk.target, disk.all_targets) \
            if saved_xml else checkpoint_xml(name, disk.target,
                                             disk.all_targets)
        try:
            dom.checkpointCreateXML(xml, _REDEFINE)
        except libvirt.libvirtError as exc:
            raise _error(dom, 'redefine (to delete)', name, exc)
        cp = _lookup(dom, name)
    try:
        cp.delete(0)
        return True
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_INTERNAL_ERROR:
            raise _error(dom, 'delete', name, exc)
        LOG.debug('Checkpoint %s of domain %s has no bitmap (%s); removing '
                  'its metadata only', name, dom.UUIDString(), exc)
    try:
        cp.delete(_METADATA_ONLY)
    except libvirt.libvirtError as exc:
        raise _error(dom, 'delete the metadata of', name, exc)
    return False


def prune(disk, keep, saved_xml=None):
    """Delete the volume's checkpoints except those in ``keep``.

    The volume's checkpoints are those named in ``saved_xml`` (a mapping
    name -> saved XML, known to the driver) and those the domain has on
    ``disk``.

    Checkpoints of other disks of the domain are left alone. Returns the
    names deleted. This is how a volume keeps a bounded number of bitmaps:
    after a snapshot, ``keep`` is just the new checkpoint.
    """
    saved_xml = dict(saved_xml or {})
    names = set(saved_xml) | set(names_on_disk(disk))
    removed = []
    for name in sorted(names - set(keep)):
        delete_checkpoint(disk, name, saved_xml.get(name))
        removed.append(name)
    return removed
