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
"""Snapshots of volumes attached to running VMs, through libvirt.

The steps between the chain plan and :mod:`incsnap_driver.virt`: find the
VM and its disk, gate on versions, make sure the parent's checkpoint is
known to the domain (redefining it after a restart, a migration or a
re-attach), run the backup job, and tidy old checkpoints. Knows no Cinder
objects: the driver passes plain values in.
"""

import contextlib
import dataclasses
import datetime
import os
import time
from xml.etree import ElementTree

import libvirt
from oslo_log import log as logging

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.virt import backup
from incsnap_driver.virt import checkpoints
from incsnap_driver.virt import connection
from incsnap_driver.virt import domain
from incsnap_driver.virt import errors
from incsnap_driver.virt import versions

LOG = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 60
BUSY_RETRY_INTERVAL = 2


@dataclasses.dataclass(frozen=True)
class Attachment:
    instance_uuid: str
    host: str


@contextlib.contextmanager
def running_disk(uri_template, attachments, volume_file_name):
    """Yield the running VM disk holding the volume, or None.

    None means no VM runs on the volume (the VM is stopped, or the domain
    is not defined on the attachment's host): the volume can be handled
    offline. A host that cannot be reached raises
    :class:`errors.ConnectionFailed`: a VM may well be running there, so
    the volume must not be opened by anything else.
    """
    for attachment in attachments:
        conn = connection.open_connection(uri_template, attachment.host)
        try:
            disk = domain.find_attached_disk(conn.conn,
                                             attachment.instance_uuid,
                                             volume_file_name)
            if disk is not None:
                yield conn, disk
                return
        finally:
            conn.close()
    yield None, None


def check_versions(conn, incremental):
    """Raise VersionTooOld / BackupUnsupported as the host requires."""
    found = conn.versions()
    versions.check(found.libvirt, found.qemu, incremental,
                   found.has_backup_api)
    return found


def offline_checkpoint_xml(disk, name, created_at=None):
    """Checkpoint XML for a bitmap made offline (libvirt never knew it).

    libvirt refuses to redefine a checkpoint without ``creationTime``; the
    snapshot's creation time stands in (now, when unknown).
    """
    when = int(time.time())
    if created_at:
        try:
            when = int(datetime.datetime.fromisoformat(
                created_at).timestamp())
        except ValueError:
            pass
    return checkpoints.checkpoint_xml(name, disk.target, disk.all_targets,
                                      creation_time=when)


def parent_state(disk, parent):
    """BitmapState of the parent's bitmap as the running QEMU sees it.

    Makes the domain know the parent's checkpoint (redefined from the XML
    kept in the chain document, or built for a bitmap made offline).
    Returns None when the bitmap is missing.
    """
    saved = parent.checkpoint_xml or offline_checkpoint_xml(
        disk, parent.bitmap, parent.created_at)
    try:
        checkpoints.ensure_checkpoint(disk, parent.bitmap, saved)
    except errors.CheckpointUnusable as exc:
        LOG.warning('Checkpoint %(cp)s of %(disk)s is unusable: %(why)s',
                    {'cp': parent.bitmap, 'disk': disk.source,
                     'why': exc.reason})
        if exc.reason == chain_mod.REASON_BITMAP_INCONSISTENT:
            return chain_mod.BitmapState(consistent=False)
        return None
    return chain_mod.BitmapState()


def take(disk, relative_target, plan, timeout, progress, quiesce,
         remove_target):
    """Run the backup job of ``plan``; retry while the VM is busy.

    A second volume of the same VM being snapshotted holds the domain's
    job: wait for it (bounded) rather than fail at once.
    """
    deadline = time.monotonic() + BUSY_RETRY_SECONDS
    while True:
        try:
            return backup.run_backup(
                disk, relative_target, checkpoint_name=plan.new_bitmap,
                incremental=plan.source_bitmap, timeout=timeout,
                progress=progress, quiesce=quiesce,
                remove_target=remove_target)
        except libvirt.libvirtError as exc:
            # The domain went away (destroyed, crashed, migrated off) or
            # libvirtd broke the connection while the job ran; run_backup
            # has aborted what it could and removed the target.
            raise errors.BackupFailed('Backup of %s failed: %s'
                                      % (disk.source, exc))
        except errors.DomainBusy:
            if abort_abandoned_backup(disk, relative_target):
                continue
            if time.monotonic() > deadline:
                raise
            LOG.info('Domain of %s is busy with another job; retrying.',
                     disk.source)
            time.sleep(BUSY_RETRY_INTERVAL)


def abort_abandoned_backup(disk, relative_target):
    """Abort a backup job of ours that nobody waits for any more.

    A job whose waiter lost libvirtd (restarted) or died (cinder-volume
    killed) runs on in QEMU into a target the driver already gave up on.
    Such a job writes a ``.part`` file in this volume's snapshot folder;
    the caller holds the volume's lock, so no live operation owns it.
    Returns True when one was aborted.
    """
    dom = disk.domain
    try:
        xml = dom.backupGetXMLDesc(0)
    except libvirt.libvirtError:
        return False
    folder = os.path.dirname(backup.target_path_for(disk.source,
                                                    relative_target))
    for target in ElementTree.fromstring(xml).iter('target'):
        path = target.get('file') or ''
        if (os.path.dirname(path) == folder and
                path.endswith(layout.PART_SUFFIX)):
            LOG.warning('Aborting an abandoned backup job of %(disk)s into '
                        '%(path)s.', {'disk': disk.source, 'path': path})
            try:
                dom.abortJob()
            except libvirt.libvirtError as exc:
                LOG.warning('Could not abort it: %s', exc)
                return False
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    dom.backupGetXMLDesc(0)
                except libvirt.libvirtError:
                    return True  # no backup job any more
                time.sleep(0.2)
            return True
    return False


def tidy(disk, keep, stale=()):
    """Remove our checkpoints and bitmaps of this disk other than ``keep``.

    ``stale`` names bitmaps of ours found in the image header that the
    domain may not know as checkpoints (made offline, loaded by QEMU at
    start): they are redefined, then deleted with their bitmap. Checkpoints
    that are not ours (another backup tool's) are left alone.
    """
    removed = []
    try:
        names = {n for n in checkpoints.names_on_disk(disk)
                 if chain_mod.is_ours(n)} | set(stale)
        for name in sorted(names - set(keep)):
            checkpoints.delete_checkpoint(
                disk, name, offline_checkpoint_xml(disk, name))
            removed.append(name)
    except errors.VirtError as exc:
        # Harmless: the next snapshot tries again.
        LOG.warning('Could not remove old checkpoints of %(disk)s: %(err)s',
                    {'disk': disk.source, 'err': exc})
    return removed
