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
"""One push-mode libvirt backup job of one disk: a snapshot of a volume
attached to a running VM.

``virDomainBackupBegin(backup_xml, checkpoint_xml)`` starts a QEMU backup
job of the disk into a new qcow2 file and, in the same QEMU transaction,
creates the new checkpoint (its bitmap), so no guest write falls between
the copy's point in time and the new bitmap. Facts verified on Debian 12
(libvirt 9.0, QEMU 7.2) by tests/functional/virt:

* the target must not exist (``VIR_ERR_INVALID_ARG`` "store ... exists";
  the existing file is left alone); libvirt creates it, owned by root with
  mode 0600 once the job is over;
* a *full* target has no backing file; an *incremental* target
  (``<incremental>PARENT</incremental>``) holds only the clusters of the
  parent's bitmap and is created backed by the live volume (absolute path
  on the compute host): the caller rebases it with
  ``qemu-img rebase -u -F qcow2 -b <relative parent file>``;
* while the job runs ``jobStats()`` reports ``type`` UNBOUNDED (2) with
  ``disk_total``/``disk_processed``; when it is over ``type`` is NONE and
  ``jobStats(VIR_DOMAIN_JOB_STATS_COMPLETED)`` holds ``success`` and, on
  failure, ``errmsg``. Completed stats are per domain: only one job runs on
  a domain at a time, and this module serialises its own jobs per domain
  within the process (two volumes of one VM snapshotted at once);
* a second ``backupBegin`` while a job runs waits ~30 s for the domain's
  job lock, then fails (``VIR_ERR_OPERATION_TIMEOUT``): we check
  ``jobStats`` first and raise :class:`errors.DomainBusy` at once;
* ``abortJob()`` returns before the job is torn down; libvirt then deletes
  the target file it created, asynchronously. The new checkpoint created
  by ``backupBegin`` *survives* an aborted or failed job (its bitmap would
  claim a point in time no snapshot has): it is deleted here;
* an incremental from a checkpoint whose bitmap is missing or broken fails
  at ``backupBegin`` with ``VIR_ERR_CHECKPOINT_INCONSISTENT``, from an
  unknown checkpoint with ``VIR_ERR_NO_DOMAIN_CHECKPOINT``;
* ``fsFreeze`` on a domain without a guest agent channel fails with
  ``VIR_ERR_ARGUMENT_UNSUPPORTED`` ("QEMU guest agent is not
  configured"), with an agent that does not answer with
  ``VIR_ERR_AGENT_UNRESPONSIVE``.

Waiting is polling ``jobStats`` every ``poll_interval`` seconds with
``eventlet.sleep`` (no busy loop; the libvirt calls go through the tpool
proxy of :mod:`incsnap_driver.virt.connection`).
"""

import collections
import dataclasses
import os
import posixpath
import threading
import time
from xml.etree import ElementTree

import eventlet
import libvirt
from oslo_log import log as logging

from incsnap_driver.virt import checkpoints
from incsnap_driver.virt import domain
from incsnap_driver.virt import errors

LOG = logging.getLogger(__name__)

QUIESCE_MODES = ('off', 'try', 'require')
# How long to wait for libvirt to tear an aborted job down.
ABORT_WAIT = 60.0

_JOB_NONE = libvirt.VIR_DOMAIN_JOB_NONE
_STATS_COMPLETED = libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED

_domain_locks = collections.defaultdict(threading.Lock)
_domain_locks_guard = threading.Lock()


@dataclasses.dataclass(frozen=True)
class BackupResult:
    """What a completed backup job produced.

    ``target_path``: the new qcow2 on the compute host; ``checkpoint_xml``:
    the new checkpoint's XML from libvirt (``None`` when no checkpoint was
    asked for), to be stored in the chain metadata; ``incremental``: the
    parent checkpoint or ``None``; ``bytes_total``: bytes the job copied
    (per libvirt's completed stats); ``seconds``: wall time of the job.
    """

    target_path: str
    checkpoint_xml: str
    incremental: str
    bytes_total: int
    seconds: float


def backup_xml(disk_target, target_path, all_targets, incremental=None):
    """Push-mode backup XML for one disk.

    ``disk_target`` goes into a new qcow2 file ``target_path``, incremental
    from checkpoint ``incremental`` unless it is ``None``; every other disk
    of ``all_targets`` has ``backup='no'``.
    """
    root = ElementTree.Element('domainbackup', mode='push')
    if incremental:
        ElementTree.SubElement(root, 'incremental').text = incremental
    disk = domain.add_disks(root, disk_target, all_targets,
                            chosen={'backup': 'yes', 'type': 'file'},
                            others={'backup': 'no'})
    ElementTree.SubElement(disk, 'target', file=target_path)
    ElementTree.SubElement(disk, 'driver', type='qcow2')
    return ElementTree.tostring(root, encoding='unicode')


def target_path_for(source_path, relative_target):
    """The target's path on the compute host.

    ``relative_target`` (e.g.
    ``volume-<vid>.incsnap/snapshot-<sid>.qcow2.part``) taken relative to
    the directory holding the volume file ``source_path`` as the compute
    host sees it. ``relative_target`` must stay below that directory.
    """
    if not source_path or not posixpath.isabs(source_path):
        raise ValueError('volume source path must be absolute: %r'
                         % (source_path,))
    norm = posixpath.normpath(relative_target or '')
    if (posixpath.isabs(norm) or norm in ('.', '')
            or norm == '..' or norm.startswith('../')):
        raise ValueError('backup target must be a relative path below the '
                         'volume\'s directory: %r' % (relative_target,))
    return posixpath.join(posixpath.dirname(source_path), norm)


def remove_local_file(path):
    """Default target remover: the compute host is this host."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _domain_lock(uuid):
    with _domain_locks_guard:
        return _domain_locks[uuid]


def _freeze(dom, quiesce):
    """Freeze per ``quiesce``; True when file systems are frozen."""
    if quiesce not in QUIESCE_MODES:
        raise ValueError('quiesce must be one of %s, not %r'
                         % (', '.join(QUIESCE_MODES), quiesce))
    if quiesce == 'off':
        return False
    try:
        frozen = dom.fsFreeze(None, 0)
        LOG.info('Froze %(n)s file system(s) of domain %(dom)s through the '
                 'QEMU guest agent', {'n': frozen, 'dom': dom.UUIDString()})
        return True
    except libvirt.libvirtError as exc:
        if quiesce == 'require':
            raise errors.QuiesceFailed(
                'Cannot freeze the file systems of domain %s through the '
                'QEMU guest agent, and quiesce is "require": %s'
                % (dom.UUIDString(), exc))
        LOG.warning('Cannot freeze the file systems of domain %s through '
                    'the QEMU guest agent (%s); taking the snapshot without '
                    'quiesce, as quiesce is "try"', dom.UUIDString(), exc)
        return False


def _thaw(dom):
    try:
        thawed = dom.fsThaw(None, 0)
        LOG.info('Thawed %(n)s file system(s) of domain %(dom)s',
                 {'n': thawed, 'dom': dom.UUIDString()})
    except libvirt.libvirtError as exc:
        LOG.error('Cannot thaw the file systems of domain %s: %s',
                  dom.UUIDString(), exc)


def _job_type(dom):
    return dom.jobStats(0).get('type', _JOB_NONE)


def _begin_error(dom, disk, exc, incremental):
    code = exc.get_error_code()
    if code == libvirt.VIR_ERR_CHECKPOINT_INCONSISTENT:
        return errors.CheckpointUnusable(
            'Incremental backup of %s of domain %s from checkpoint %s '
            'refused: %s' % (disk.target, dom.UUIDString(), incremental,
                             exc),
            reason=checkpoints.BITMAP_INCONSISTENT, checkpoint=incremental)
    if code in (libvirt.VIR_ERR_NO_SUPPORT,
                libvirt.VIR_ERR_OPERATION_UNSUPPORTED):
        return errors.BackupUnsupported(
            'Domain %s cannot run a backup job: %s'
            % (dom.UUIDString(), exc))
    if (code in (libvirt.VIR_ERR_OPERATION_TIMEOUT,
                 libvirt.VIR_ERR_OPERATION_INVALID)
            and _job_type(dom) != _JOB_NONE):
        return errors.DomainBusy('Domain %s runs another job: %s'
                                 % (dom.UUIDString(), exc))
    return errors.BackupFailed('Cannot start the backup of %s of domain %s:'
                               ' %s' % (disk.target, dom.UUIDString(), exc))


def _clean_up(dom, target_path, checkpoint_name, remove_target,
              abort=False):
    """After a failed or aborted job: no job, no new checkpoint, no target.

    ``abort``: the job may still run (the wait was interrupted): abort it.
    """
    deadline = time.monotonic() + ABORT_WAIT
    if abort:
        try:
            if _job_type(dom) != _JOB_NONE:
                dom.abortJob()
        except libvirt.libvirtError as exc:
            LOG.warning('Cannot abort the backup job of domain %s: %s',
                        dom.UUIDString(), exc)
    try:
        while (_job_type(dom) != _JOB_NONE
               and time.monotonic() < deadline):
            eventlet.sleep(0.1)
    except libvirt.libvirtError as exc:
        LOG.warning('Cannot read the job of domain %s: %s',
                    dom.UUIDString(), exc)
    if checkpoint_name:
        try:
            if checkpoints.exists(dom, checkpoint_name):
                dom.checkpointLookupByName(checkpoint_name, 0).delete(0)
        except libvirt.libvirtError as exc:
            LOG.error('Cannot delete checkpoint %s of domain %s after a '
                      'failed backup: %s', checkpoint_name,
                      dom.UUIDString(), exc)
    try:
        remove_target(target_path)
    except Exception as exc:
        LOG.error('Cannot remove the partial backup target %s: %s',
                  target_path, exc)


def run_backup(disk, relative_target, checkpoint_name=None,
               incremental=None, timeout=3600, progress=None,
               quiesce='off', remove_target=None, poll_interval=1.0):
    """Run one push-mode backup job of ``disk`` and wait for it.

    :param disk: :class:`~incsnap_driver.virt.domain.AttachedDisk`.
    :param relative_target: target file, relative to the directory of the
        volume file (see :func:`target_path_for`); must not exist.
    :param checkpoint_name: checkpoint (and bitmap) to create with the job;
        ``None`` for a full backup without checkpoint (incremental off).
    :param incremental: parent checkpoint for an incremental backup, or
        ``None`` for a full one. Call
        :func:`~incsnap_driver.virt.checkpoints.ensure_checkpoint` first.
    :param timeout: seconds the job may run; then it is aborted.
    :param progress: callable taking an int 0..100, called when the
        percentage changes (first with 0 right after the job started).
    :param quiesce: ``off``, ``try`` or ``require``: freeze the guest file
        systems right before the job starts, thaw right after it started.
    :param remove_target: callable removing a path on the compute host;
        default :func:`remove_local_file` (same host).
    :param poll_interval: seconds between two ``jobStats`` polls.
    :returns: :class:`BackupResult`.
    :raises: :class:`errors.DomainBusy`, :class:`errors.QuiesceFailed`,
        :class:`errors.CheckpointUnusable`, :class:`errors.BackupUnsupported`,
        :class:`errors.BackupTimeout`, :class:`errors.BackupFailed`. On
        every failure after the job started, the job is aborted, its new
        checkpoint deleted and the partial target removed.
    """
    dom = disk.domain
    remove_target = remove_target or remove_local_file
    target_path = target_path_for(disk.source, relative_target)
    bxml = backup_xml(disk.target, target_path, disk.all_targets,
                      incremental)
    cxml = None
    if checkpoint_name:
        cxml = checkpoints.checkpoint_xml(checkpoint_name, disk.target,
                                          disk.all_targets)
    uuid = dom.UUIDString()
    with _domain_lock(uuid):
        if _job_type(dom) != _JOB_NONE:
            raise errors.DomainBusy('Domain %s runs another job; not '
                                    'starting a backup of %s' % (
                                        uuid, disk.target))
        frozen = _freeze(dom, quiesce)
        started = time.monotonic()
        try:
            dom.backupBegin(bxml, cxml, 0)
        except libvirt.libvirtError as exc:
            raise _begin_error(dom, disk, exc, incremental)
        finally:
            if frozen:
                _thaw(dom)
        LOG.info('Backup of %s (%s) of domain %s into %s started (%s)',
                 disk.target, disk.source, uuid, target_path,
                 'incremental from %s' % incremental if incremental
                 else 'full')
        try:
            _wait(dom, started, timeout, progress, poll_interval)
            stats = dom.jobStats(_STATS_COMPLETED)
        except errors.BackupFailed:
            _clean_up(dom, target_path, checkpoint_name, remove_target)
            raise
        except BaseException:
            # Interrupted (green thread killed, libvirt error while
            # polling): the job may still run.
            _clean_up(dom, target_path, checkpoint_name, remove_target,
                      abort=True)
            raise
        seconds = time.monotonic() - started
        if not stats.get('success'):
            _clean_up(dom, target_path, checkpoint_name, remove_target)
            raise errors.BackupFailed(
                'Backup of %s of domain %s into %s failed: %s' % (
                    disk.target, uuid, target_path,
                    stats.get('errmsg', 'no error message (job type %s)'
                              % stats.get('type'))))
        cp_xml = None
        if checkpoint_name:
            cp_xml = checkpoints.get_xml(dom, checkpoint_name)
    LOG.info('Backup of %s of domain %s into %s completed in %.1f s',
             disk.target, uuid, target_path, seconds)
    return BackupResult(target_path=target_path, checkpoint_xml=cp_xml,
                        incremental=incremental,
                        bytes_total=stats.get('disk_total', 0),
                        seconds=seconds)


def _wait(dom, started, timeout, progress, poll_interval):
    """Poll the job until it is over; abort it on timeout."""
    last = None
    while True:
        stats = dom.jobStats(0)
        if stats.get('type', _JOB_NONE) == _JOB_NONE:
            break
        if progress is not None:
            total = stats.get('disk_total') or 0
            done = stats.get('disk_processed') or 0
            percent = min(100, done * 100 // total) if total else 0
            if percent != last:
                last = percent
                progress(percent)
        if time.monotonic() - started >= timeout:
            LOG.warning('Backup job of domain %s still runs after %s s; '
                        'aborting it', dom.UUIDString(), timeout)
            try:
                dom.abortJob()
            except libvirt.libvirtError as exc:
                if _job_type(dom) != _JOB_NONE:
                    raise errors.BackupFailed(
                        'Cannot abort the backup job of domain %s after '
                        'its timeout: %s' % (dom.UUIDString(), exc))
            raise errors.BackupTimeout(
                'Backup job of domain %s did not complete within %s s and '
                'was aborted' % (dom.UUIDString(), timeout))
        eventlet.sleep(poll_interval)
    if progress is not None and last != 100:
        progress(100)
