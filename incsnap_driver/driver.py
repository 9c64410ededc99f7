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
"""Cinder NFS volume driver with incremental qcow2 snapshots.

Enable with::

    [mybackend]
    volume_driver = incsnap_driver.driver.IncrementalSnapshotNfsDriver
    kvm_incremental_snapshot = true

This class only translates Cinder objects into plans (:mod:`chain`) and
calls down to the QEMU mechanics (:mod:`qemu.offline`, :mod:`qemu.img`);
the chain document is kept by :mod:`store`. Every operation on a volume's
files runs under that volume's coordination lock, the one Cinder's NFS
driver takes (``nfs-<volume id>``).
"""

import dataclasses
import datetime
import functools
import os
import time

from cinder import coordination
from cinder import exception
from cinder.i18n import _
from cinder.image import image_utils
from cinder import interface
from cinder.volume.drivers import nfs
from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_utils import units

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver import online
from incsnap_driver import options
from incsnap_driver.qemu import bitmaps
from incsnap_driver.qemu import daemon
from incsnap_driver.qemu import img
from incsnap_driver.qemu import offline
from incsnap_driver.qemu import qmp
from incsnap_driver.qemu import version as qemu_version
from incsnap_driver import store
from incsnap_driver.virt import backup
from incsnap_driver.virt import errors as virt_errors

LOG = logging.getLogger(__name__)

VERSION = '1.0.0'
METADATA_PREFIX = 'incsnap:'
PROGRESS_INTERVAL = 2.0


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class _SnapshotJob:
    """What one create_snapshot call works on, and what it found out."""

    def __init__(self, snapshot, volume, chain, volume_path, snap_dir):
        self.snapshot = snapshot
        self.volume = volume
        self.chain = chain
        self.volume_path = volume_path
        self.snap_dir = snap_dir
        self.final = os.path.join(snap_dir,
                                  layout.snapshot_file(snapshot.id))
        self.part = os.path.join(snap_dir, layout.part_file(snapshot.id))
        self.mode = None
        self.plan = None
        self.size = 0
        self.checkpoint_xml = None


@interface.volumedriver
class IncrementalSnapshotNfsDriver(nfs.NfsDriver):
    """NFS driver whose snapshots are incremental qcow2 files.

    Volumes are single qcow2 v3 files (never overlays); each snapshot is a
    separate qcow2 file in the volume's snapshot folder, full or holding
    only the clusters written since its parent.
    """

    VERSION = VERSION
    volume_backend_name = 'incsnap'
    CI_WIKI_NAME = 'incsnap_CI'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(options.incsnap_opts)
        self.settings = None
        # The volumes are always qcow2 files.
        self.format = 'qcow2'

    @staticmethod
    def get_driver_options():
        return nfs.NfsDriver.get_driver_options() + options.incsnap_opts

    # -- setup -------------------------------------------------------------

    def do_setup(self, context):
        try:
            self.settings = options.read(self.configuration)
        except options.InvalidOption as exc:
            LOG.error('incsnap: %s', exc)
            raise exception.InvalidConfigurationValue(
                option=exc.option,
                value=exc.value if exc.value is not None else exc.reason)
        super().do_setup(context)
        self.format = 'qcow2'
        self._check_qemu()

    def _check_qemu(self):
        """Fail at start-up when QEMU cannot do what is configured."""
        try:
            out, _err = self._run('qemu-img', '--version')
            found = qemu_version.parse(out)
        except (processutils.ProcessExecutionError, OSError,
                ValueError) as exc:
            raise exception.VolumeDriverException(
                message=_('incsnap: cannot run qemu-img: %s') % exc)
        wanted = self.settings.incremental or any(
            self.settings.incremental_by_az.values())
        if wanted:
            problem = qemu_version.check(found)
            if problem:
                LOG.error('incsnap: %s', problem)
                raise exception.VolumeDriverException(message=problem)
        LOG.info('incsnap driver %(ver)s: QEMU %(qemu)s, incremental '
                 'snapshots %(inc)s (delta max %(dm)s), AZ overrides '
                 '%(azi)s / %(azd)s',
                 {'ver': VERSION,
                  'qemu': '.'.join(map(str, found)),
                  'inc': self.settings.incremental,
                  'dm': self.settings.delta_max,
                  'azi': self.settings.incremental_by_az,
                  'azd': self.settings.delta_max_by_az})

    def _check_snapshot_support(self, setup_checking=False):
        """Snapshots are this driver's own: no nfs_snapshot_support needed.

        The stock switch governs the stock overlay snapshots, which this
        driver does not use, and its objection to secure NAS file
        operations does not apply either: qcow2 tools run as the service
        user then.
        """

    def _update_volume_stats(self):
        super()._update_volume_stats()
        self._stats['driver_version'] = VERSION
        self._stats['vendor_name'] = 'Open Source'
        self._stats['storage_protocol'] = 'NFS'
        backend = self.configuration.safe_get('volume_backend_name')
        self._stats['volume_backend_name'] = (backend or
                                              self.volume_backend_name)
        if self.settings is not None:
            self._stats['incremental_snapshots'] = self.settings.incremental
            self._stats['snapshot_delta_max'] = self.settings.delta_max

    # -- helpers -----------------------------------------------------------

    @property
    def _run(self):
        """Command runner bound to the driver's root-helper choice."""
        return functools.partial(self._execute,
                                 run_as_root=self._execute_as_root)

    def _owner_uid(self):
        if self._execute_as_root and os.geteuid() != 0:
            return os.geteuid()
        return None

    def _paths(self, volume):
        """The volume's file and snapshot folder, checked to be on its share.

        A snapshot folder (or volume file) that is a symlink, or resolves
        outside the share, is refused: the driver writes, reads and removes
        files there.
        """
        volume_path = self.local_path(volume)
        snap_dir = layout.snapshot_dir(volume_path)
        share_root = os.path.dirname(volume_path)
        for path in (volume_path, snap_dir):
            if os.path.islink(path) or (
                    os.path.lexists(path) and
                    not layout.is_inside(share_root, path)):
                raise exception.VolumeBackendAPIException(
                    data=_('Volume %(vol)s: %(path)s is a symbolic link or '
                           'leads out of the share; refusing to use it.')
                    % {'vol': volume.id, 'path': path})
        return volume_path, snap_dir

    def _store(self, volume):
        _vol, snap_dir = self._paths(volume)
        mode = (0o660 if self.configuration.nas_secure_file_permissions ==
                'true' else 0o666)
        return store.ChainStore(snap_dir, file_mode=mode)

    def _load_chain(self, volume, deleting=None):
        """The volume's chain, after finishing any interrupted operation.

        ``deleting``: the id of a snapshot being deleted, whose own file
        does not count as damage when the document is missing (a process
        killed before the document of the volume's first snapshot was
        written, by a driver older than the one that writes it first).
        """
        chain_store = self._store(volume)
        try:
            chain = chain_store.load(volume.id)
        except store.ChainDocumentError as exc:
            raise exception.VolumeBackendAPIException(
                data=_('Volume %(vol)s: %(err)s. Inspect it with '
                       'incsnap-manage verify.') % {'vol': volume.id,
                                                    'err': exc})
        if not chain_store.exists():
            # No document but snapshot files: it was removed from outside.
            # Going on would take the files for leftovers and plan as if
            # the volume had no snapshot.
            _vol, snap_dir = self._paths(volume)
            files = [n for n in self._listdir(snap_dir)
                     if layout.snapshot_id_of(n) not in (None, deleting)]
            if files:
                raise exception.VolumeBackendAPIException(
                    data=_('Volume %(vol)s: the chain document %(doc)s is '
                           'missing while %(n)d snapshot file(s) exist '
                           '(%(files)s). Inspect it with incsnap-manage '
                           'verify.') % {'vol': volume.id,
                                         'doc': chain_store.path,
                                         'n': len(files),
                                         'files': ', '.join(files[:3])})
        self._recover(volume, chain, chain_store)
        return chain, chain_store

    @staticmethod
    def _listdir(directory):
        try:
            return sorted(os.listdir(directory))
        except FileNotFoundError:
            return []

    def _recover(self, volume, chain, chain_store):
        """Undo what a killed process left half done on this volume."""
        volume_path, snap_dir = self._paths(volume)
        daemon.reap_orphans(volume_path, execute=self._run)
        journal = chain.journal
        if journal and journal.get('op') == 'revert':
            undo = os.path.join(snap_dir, journal['undo'])
            if os.path.exists(undo):
                LOG.warning('Volume %(vol)s: a revert to snapshot %(snap)s '
                            'was interrupted; restoring the volume from '
                            '%(undo)s.', {'vol': volume.id,
                                          'snap': journal['snapshot'],
                                          'undo': undo})
                offline.restore_undo(volume_path, undo,
                                     self.settings.copy_timeout,
                                     execute=self._run,
                                     owner_uid=self._owner_uid())
            chain.journal = None
            chain_store.save(chain)
        self._remove_orphans(volume, chain, snap_dir)

    def _remove_orphans(self, volume, chain, snap_dir):
        """Remove files of operations that never completed.

        Only files that are never complete data are removed: partial
        copies, undo files no journal refers to, temporary documents. A
        complete snapshot file the document does not list is left for the
        operator (incsnap-manage gc): removing data is not for guesses.
        """
        journal = chain.journal or {}
        for name in self._listdir(snap_dir):
            if name == journal.get('undo'):
                continue
            if (name.endswith(layout.PART_SUFFIX) or
                    name.endswith('.undo.qcow2') or
                    name.startswith('.chain.')):
                LOG.warning('Volume %(vol)s: removing leftover %(file)s.',
                            {'vol': volume.id, 'file': name})
                self._remove(os.path.join(snap_dir, name))
        revert_part = layout.revert_file(self.local_path(volume))
        if os.path.exists(revert_part):
            self._remove(revert_part)

    def _remove(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except PermissionError:
            self._delete(path)

    def _volume_facts(self, volume_path, parent=None, snap_dir=None):
        info = img.info(volume_path, execute=self._run)
        parent_present = True
        if parent is not None:
            parent_present = os.path.exists(os.path.join(snap_dir,
                                                         parent.file))
        return chain_mod.VolumeFacts(
            format=info.get('format'),
            qcow2_v3=img.qcow2_compat(info) == img.QCOW2_V3,
            size=info.get('virtual-size', 0),
            bitmaps=bitmaps.from_header(img.bitmaps(info)),
            parent_file_present=parent_present), info

    def _copy_speed(self):
        """Cinder's volume_copy_bps_limit, applied to our copy jobs."""
        return int(self.configuration.safe_get('volume_copy_bps_limit') or
                   0)

    def _policy(self, volume):
        return options.resolve(self.settings, volume.availability_zone)

    def _progress_reporter(self, snapshot):
        state = {'last': 0.0, 'value': None}

        def report(percent):
            now = time.monotonic()
            if percent == state['value']:
                return
            if percent < 100 and now - state['last'] < PROGRESS_INTERVAL:
                return
            state['last'] = now
            state['value'] = percent
            try:
                snapshot.progress = '%d%%' % percent
                snapshot.save()
            except Exception as exc:  # progress is best effort
                LOG.debug('Could not save progress of snapshot %s: %s',
                          snapshot.id, exc)
        return report

    def _set_permissions(self, path):
        self._set_rw_permissions(path)

    # -- volumes -----------------------------------------------------------

    def _do_create_volume(self, volume):
        """Create the volume as a qcow2 v3 file (persistent bitmaps)."""
        if volume.encryption_key_id:
            raise exception.VolumeDriverException(
                message=_('Volume %s: encrypted volumes are not supported by '
                          'the incsnap driver.') % volume.id)
        volume_path = self.local_path(volume)
        prealloc = (None if self.configuration.nfs_sparsed_volumes
                    else 'falloc')
        img.create(volume_path, volume.size * units.Gi, execute=self._run,
                   preallocation=prealloc)
        self._set_permissions(volume_path)
        volume.admin_metadata['format'] = 'qcow2'
        with volume.obj_as_admin():
            volume.save()

    def _create_qcow2_file(self, path, size_gb):
        img.create(path, size_gb * units.Gi, execute=self._run)

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def delete_volume(self, volume):
        """Delete the volume and every file of it, hidden snapshots too."""
        if not volume.provider_location:
            LOG.warning('Volume %s has no provider_location; nothing to '
                        'delete.', volume.id)
            return
        volume_path, snap_dir = self._paths(volume)
        if os.path.isdir(snap_dir):
            for name in os.listdir(snap_dir):
                self._remove(os.path.join(snap_dir, name))
            try:
                os.rmdir(snap_dir)
            except OSError as exc:
                LOG.warning('Could not remove %(dir)s: %(err)s',
                            {'dir': snap_dir, 'err': exc})
        for path in (volume_path, layout.revert_file(volume_path),
                     layout.new_volume_part(volume_path),
                     self._local_path_volume_info(volume)):
            self._remove(path)

    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        """Fetch an image into the volume, keeping the volume qcow2 v3."""
        volume_path = self.local_path(volume)
        image_utils.fetch_to_volume_format(
            context, image_service, image_id, volume_path, 'qcow2',
            self.configuration.volume_dd_blocksize, size=volume.size,
            run_as_root=self._execute_as_root)
        info = img.info(volume_path, execute=self._run)
        if img.qcow2_compat(info) != img.QCOW2_V3:
            self._run('qemu-img', 'amend', '-f', 'qcow2', '-o',
                      'compat=%s' % img.QCOW2_V3, volume_path)
        if info['virtual-size'] < volume.size * units.Gi:
            img.resize(volume_path, volume.size * units.Gi,
                       execute=self._run)
        self._set_permissions(volume_path)

    # -- snapshots ---------------------------------------------------------

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def create_snapshot(self, snapshot):
        """Take a full or incremental snapshot, online or offline.

        A VM running on the volume owns its file: the copy is then a
        libvirt backup job on that VM. Otherwise (detached, or attached to
        a stopped VM) qemu-storage-daemon runs the same job on the file.
        """
        volume = snapshot.volume
        try:
            layout.check_uuid('snapshot', snapshot.id)
        except layout.UnsafeName as exc:
            raise exception.InvalidSnapshot(reason=str(exc))
        chain, chain_store = self._load_chain(volume)
        volume_path, snap_dir = self._paths(volume)
        if not os.path.exists(volume_path):
            raise exception.VolumeBackendAPIException(
                data=_('Snapshot %(snap)s: the file of volume %(vol)s is '
                       'missing (%(path)s).') % {'snap': snapshot.id,
                                                 'vol': volume.id,
                                                 'path': volume_path})
        os.makedirs(snap_dir, exist_ok=True)
        if not chain_store.exists():
            # The document exists before any snapshot file does.  A process
            # killed between the file's rename and the document's save then
            # leaves a file the document does not know, which the snapshot's
            # delete removes, not snapshot files without a document, which
            # is damage that stops every operation on the volume.
            chain_store.save(chain)
        job = _SnapshotJob(snapshot, volume, chain, volume_path, snap_dir)
        try:
            with online.running_disk(self.settings.libvirt_uri,
                                     self._attachments(volume),
                                     os.path.basename(volume_path)) as (
                                         conn, disk):
                if disk is None:
                    self._snapshot_offline(job)
                else:
                    self._snapshot_online(job, conn, disk)
        except virt_errors.VirtError as exc:
            self._remove(job.part)
            raise self._virt_failure(snapshot, volume, exc)
        except (daemon.DaemonError, qmp.QMPError, qmp.QMPConnectionError,
                processutils.ProcessExecutionError, OSError) as exc:
            self._remove(job.part)
            LOG.error('Snapshot %(snap)s of volume %(vol)s failed: %(err)s',
                      {'snap': snapshot.id, 'vol': volume.id, 'err': exc})
            raise exception.VolumeBackendAPIException(
                data=_('Snapshot %(snap)s of volume %(vol)s failed: '
                       '%(err)s') % {'snap': snapshot.id, 'vol': volume.id,
                                     'err': exc})
        self._set_permissions(job.final)
        plan = job.plan
        record = chain_mod.SnapshotRecord(
            id=snapshot.id, file=os.path.basename(job.final), kind=plan.kind,
            depth=plan.depth, parent=plan.parent, reason=plan.reason,
            bitmap=plan.new_bitmap, size=job.size, created_at=_now(),
            checkpoint_xml=job.checkpoint_xml, mode=job.mode)
        chain.snapshots.append(record)
        chain.head = snapshot.id if plan.new_bitmap else None
        chain_store.save(chain)
        return {'metadata': self._snapshot_metadata(snapshot, record)}

    def _attachments(self, volume):
        """Where the volume is attached: (instance, compute host) pairs."""
        if volume.attach_status != 'attached':
            return []
        found = []
        for att in volume.volume_attachment or []:
            if att.attach_status == 'attached' and att.instance_uuid:
                found.append(online.Attachment(
                    instance_uuid=att.instance_uuid,
                    host=att.attached_host or ''))
        return found

    def _plan(self, job, facts):
        job.plan = chain_mod.plan_snapshot(job.chain, job.snapshot.id,
                                           self._policy(job.volume), facts)
        LOG.info('Snapshot %(snap)s of volume %(vol)s (%(mode)s): '
                 '%(kind)s%(why)s.',
                 {'snap': job.snapshot.id, 'vol': job.volume.id,
                  'mode': job.mode, 'kind': job.plan.kind,
                  'why': (' (%s)' % job.plan.reason if job.plan.reason else
                          ' from %s' % job.plan.parent)})
        return job.plan

    def _snapshot_offline(self, job):
        job.mode = 'offline'
        parent = job.chain.newest_live()
        facts, info = self._volume_facts(job.volume_path, parent,
                                         job.snap_dir)
        job.size = facts.size
        plan = self._plan(job, facts)
        backing = job.chain.get(plan.parent).file if plan.parent else None
        offline.snapshot(
            job.volume_path, job.part, facts.size,
            self.settings.copy_timeout, volume_fmt=facts.format,
            backing_file=backing, source_bitmap=plan.source_bitmap,
            new_bitmap=plan.new_bitmap, drop_bitmaps=plan.drop_bitmaps,
            progress=self._progress_reporter(job.snapshot),
            speed=self._copy_speed(),
            volume_has_backing=bool(info.get('backing-filename')),
            execute=self._run, owner_uid=self._owner_uid())
        os.rename(job.part, job.final)

    def _snapshot_online(self, job, conn, disk):
        job.mode = 'online'
        policy = self._policy(job.volume)
        online.check_versions(conn, policy.incremental)
        parent = job.chain.newest_live()
        # What the image header says: its format, size, and our bitmaps
        # made offline. Whether the parent's bitmap is usable is for the
        # running QEMU to say, through libvirt.
        facts, _info = self._volume_facts(job.volume_path, parent,
                                          job.snap_dir)
        job.size = facts.size
        header_bitmaps = [n for n in facts.bitmaps if chain_mod.is_ours(n)]
        states = {}
        if (policy.incremental and parent is not None and parent.bitmap and
                facts.can_hold_bitmaps and job.chain.head == parent.id and
                parent.depth < policy.delta_max and
                facts.parent_file_present):
            state = online.parent_state(disk, parent)
            if state is not None:
                states[parent.bitmap] = state
        facts = dataclasses.replace(facts, bitmaps=states)
        plan = self._plan(job, facts)
        relative = os.path.relpath(job.part,
                                   os.path.dirname(job.volume_path))
        result = online.take(
            disk, relative, plan, self.settings.copy_timeout,
            self._progress_reporter(job.snapshot), self.settings.quiesce,
            remove_target=lambda _path: self._remove(job.part))
        if plan.parent:
            # libvirt backs an incremental target by the live volume.
            backup.wait_unlocked(job.part)
            img.rebase_unsafe(job.part, job.chain.get(plan.parent).file,
                              execute=self._run)
        os.rename(job.part, job.final)
        job.checkpoint_xml = result.checkpoint_xml
        online.tidy(disk, keep=[plan.new_bitmap], stale=header_bitmaps)

    def _virt_failure(self, snapshot, volume, exc):
        LOG.error('Snapshot %(snap)s of attached volume %(vol)s failed: '
                  '%(err)s', {'snap': snapshot.id, 'vol': volume.id,
                              'err': exc})
        if isinstance(exc, (virt_errors.VersionTooOld,
                            virt_errors.BackupUnsupported)):
            return exception.VolumeDriverException(
                message=_('Snapshot %(snap)s of volume %(vol)s: %(err)s')
                % {'snap': snapshot.id, 'vol': volume.id, 'err': exc})
        return exception.VolumeBackendAPIException(
            data=_('Snapshot %(snap)s of attached volume %(vol)s failed: '
                   '%(err)s') % {'snap': snapshot.id, 'vol': volume.id,
                                 'err': exc})

    @staticmethod
    def _snapshot_metadata(snapshot, record):
        metadata = dict(snapshot.metadata or {})
        for key in list(metadata):
            if key.startswith(METADATA_PREFIX):
                del metadata[key]
        metadata[METADATA_PREFIX + 'kind'] = record.kind
        metadata[METADATA_PREFIX + 'chain_depth'] = str(record.depth)
        if record.parent:
            metadata[METADATA_PREFIX + 'parent'] = record.parent
        if record.reason:
            metadata[METADATA_PREFIX + 'full_reason'] = record.reason
        return metadata

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}')
    def delete_snapshot(self, snapshot):
        volume = snapshot.volume
        chain, chain_store = self._load_chain(volume, deleting=snapshot.id)
        plan = chain_mod.plan_delete(chain, snapshot.id)
        _vol, snap_dir = self._paths(volume)
        if chain.get(snapshot.id) is None:
            # Unknown to the chain: its creation failed.  A file named after
            # it is its own (complete when the process died before the
            # document recorded it); no record can depend on it.
            for name in (layout.snapshot_file(snapshot.id),
                         layout.part_file(snapshot.id)):
                path = os.path.join(snap_dir, name)
                if os.path.lexists(path):
                    LOG.warning('Snapshot %(snap)s of volume %(vol)s was '
                                'never recorded (its creation was '
                                'interrupted); removing %(file)s.',
                                {'snap': snapshot.id, 'vol': volume.id,
                                 'file': name})
                    self._remove(path)
        if plan.hide:
            LOG.info('Snapshot %(snap)s of volume %(vol)s is deleted but its '
                     'file stays hidden: %(n)d snapshot(s) depend on it.',
                     {'snap': snapshot.id, 'vol': volume.id,
                      'n': len(chain.children(snapshot.id))})
        for snapshot_id in plan.remove:
            record = chain.get(snapshot_id)
            LOG.info('Removing the file of snapshot %(snap)s of volume '
                     '%(vol)s.', {'snap': snapshot_id, 'vol': volume.id})
            self._remove(os.path.join(snap_dir, record.file))
        chain_mod.apply_delete(chain, plan)
        others = [n for n in self._listdir(snap_dir) if n != store.DOCUMENT]
        if chain.snapshots or chain.journal or others:
            # A document stays while any file does: a folder with snapshot
            # files and no document is damage, not an empty chain.
            chain_store.save(chain)
        else:
            chain_store.remove()
            try:
                os.rmdir(snap_dir)
            except OSError:
                pass
        if plan.clears_head and not self._attached(volume):
            self._drop_stale_bitmaps(volume)

    def _attached(self, volume):
        return volume.attach_status == 'attached'

    def _drop_stale_bitmaps(self, volume):
        """Remove bitmaps of ours no snapshot can use any more (detached)."""
        volume_path = self.local_path(volume)
        try:
            info = img.info(volume_path, execute=self._run)
            for bitmap in img.bitmaps(info):
                if chain_mod.is_ours(bitmap['name']):
                    img.bitmap_remove(volume_path, bitmap['name'],
                                      execute=self._run)
        except processutils.ProcessExecutionError as exc:
            # Harmless: the next snapshot drops them.
            LOG.info('Volume %(vol)s: stale bitmaps left for the next '
                     'snapshot to remove (%(err)s).',
                     {'vol': volume.id, 'err': exc})

    # -- revert ------------------------------------------------------------

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def revert_to_snapshot(self, context, volume, snapshot):
        """Make the volume byte-identical to ``snapshot``.

        When the volume's bitmap of the snapshot is intact, only the
        clusters written since are copied back (with an undo file, so a
        failure leaves the volume as it was); otherwise the snapshot's chain
        is flattened into a new file that replaces the volume atomically.
        Either way the volume then carries an empty bitmap named after the
        snapshot, so the next snapshot is incremental again.
        """
        chain, chain_store = self._load_chain(volume)
        record = chain.get(snapshot.id)
        if record is None or record.hidden:
            raise exception.InvalidSnapshot(
                reason=_('snapshot %(snap)s of volume %(vol)s has no file '
                         'on the backend') % {'snap': snapshot.id,
                                              'vol': volume.id})
        volume_path, snap_dir = self._paths(volume)
        snap_path = os.path.join(snap_dir, record.file)
        facts, _info = self._volume_facts(volume_path)
        plan = chain_mod.plan_revert(chain, snapshot.id,
                                     self._policy(volume), facts)
        LOG.info('Reverting volume %(vol)s to snapshot %(snap)s: '
                 '%(mode)s%(why)s.',
                 {'vol': volume.id, 'snap': snapshot.id, 'mode': plan.mode,
                  'why': ' (%s)' % plan.reason if plan.reason else ''})
        try:
            if plan.mode == chain_mod.REVERT_CHANGED:
                self._revert_changed(volume, chain, chain_store, record,
                                     snap_path, plan)
            else:
                self._revert_full(volume, snap_path, facts, plan)
        except (daemon.DaemonError, qmp.QMPError, qmp.QMPConnectionError,
                processutils.ProcessExecutionError, OSError) as exc:
            # A copy-back that died half way left its undo file and
            # journal: put the volume back now, not at the next operation.
            self._recover(volume, chain, chain_store)
            LOG.error('Revert of volume %(vol)s to snapshot %(snap)s '
                      'failed; the volume is unchanged: %(err)s',
                      {'vol': volume.id, 'snap': snapshot.id, 'err': exc})
            raise exception.VolumeBackendAPIException(
                data=_('Revert of volume %(vol)s to snapshot %(snap)s '
                       'failed: %(err)s') % {'vol': volume.id,
                                             'snap': snapshot.id,
                                             'err': exc})
        chain.journal = None
        # The volume now carries plan.new_bitmap (cleared or fresh), named
        # after the snapshot: the next snapshot is its incremental child.
        record.bitmap = plan.new_bitmap
        chain.head = snapshot.id if plan.new_bitmap else None
        chain_store.save(chain)

    def _revert_changed(self, volume, chain, chain_store, record, snap_path,
                        plan):
        volume_path, snap_dir = self._paths(volume)
        undo = os.path.join(snap_dir, layout.undo_file(record.id))

        def journal(undo_path):
            chain.journal = {'op': 'revert', 'snapshot': record.id,
                             'undo': os.path.basename(undo_path)}
            chain_store.save(chain)

        try:
            offline.revert_changed(
                volume_path, snap_path, plan.bitmap, undo,
                self.settings.copy_timeout, before_apply=journal,
                speed=self._copy_speed(),
                execute=self._run, owner_uid=self._owner_uid())
        except Exception:
            if chain.journal and not os.path.exists(undo):
                chain.journal = None
                chain_store.save(chain)
            raise
        if plan.drop_bitmaps:
            for name in plan.drop_bitmaps:
                img.bitmap_remove(volume_path, name, execute=self._run)

    def _revert_full(self, volume, snap_path, facts, plan):
        volume_path = self.local_path(volume)
        self._flatten(snap_path, volume_path, layout.revert_file(volume_path),
                      facts.size, new_bitmap=plan.new_bitmap)

    # -- copies ------------------------------------------------------------

    def _flatten(self, src_path, dest, tmp, min_size, new_bitmap=None):
        """Write ``src_path``'s chain into a new independent file ``dest``.

        The copy goes to ``tmp`` first and replaces ``dest`` by a rename
        only once complete, so ``dest`` is never half written.
        """
        try:
            img.convert(src_path, tmp, execute=self._run,
                        rate_limit=self._copy_speed())
            info = img.info(tmp, execute=self._run)
            if info['virtual-size'] < min_size:
                img.resize(tmp, min_size, execute=self._run)
            if new_bitmap:
                img.bitmap_add(tmp, new_bitmap, execute=self._run)
            self._set_permissions(tmp)
            os.rename(tmp, dest)
        except BaseException:
            self._remove(tmp)
            raise

    def _flatten_into(self, src_path, volume):
        """A new independent qcow2 volume file from ``src_path``."""
        dest = self.local_path(volume)
        self._flatten(src_path, dest, layout.new_volume_part(dest),
                      volume.size * units.Gi)
        volume.admin_metadata['format'] = 'qcow2'
        with volume.obj_as_admin():
            volume.save()

    @coordination.synchronized('{self.driver_prefix}-{snapshot.volume.id}',
                               '{self.driver_prefix}-{volume.id}')
    def create_volume_from_snapshot(self, volume, snapshot):
        """A new independent volume with the snapshot's content."""
        source = snapshot.volume
        chain, _store = self._load_chain(source)
        record = chain.get(snapshot.id)
        _vol, snap_dir = self._paths(source)
        if record is None or record.hidden:
            raise exception.InvalidSnapshot(
                reason=_('snapshot %(snap)s of volume %(vol)s has no file '
                         'on the backend') % {'snap': snapshot.id,
                                              'vol': source.id})
        snap_path = os.path.join(snap_dir, record.file)
        self._ensure_shares_mounted()
        volume.provider_location = self._find_share(volume)
        try:
            self._flatten_into(snap_path, volume)
        except processutils.ProcessExecutionError as exc:
            raise exception.VolumeBackendAPIException(
                data=_('Volume %(vol)s from snapshot %(snap)s failed: '
                       '%(err)s') % {'vol': volume.id, 'snap': snapshot.id,
                                     'err': exc.stderr or exc})
        return {'provider_location': volume.provider_location}

    @coordination.synchronized('{self.driver_prefix}-{src_vref.id}',
                               '{self.driver_prefix}-{volume.id}')
    def create_cloned_volume(self, volume, src_vref):
        """A new independent volume with the content of ``src_vref``."""
        self._validate_state(src_vref.status,
                             ['available', 'backing-up', 'downloading'],
                             obj_description='source volume')
        self._ensure_shares_mounted()
        volume.provider_location = self._find_share(volume)
        try:
            self._flatten_into(self.local_path(src_vref), volume)
        except processutils.ProcessExecutionError as exc:
            raise exception.VolumeBackendAPIException(
                data=_('Clone %(vol)s of volume %(src)s failed: %(err)s')
                % {'vol': volume.id, 'src': src_vref.id,
                   'err': exc.stderr or exc})
        return {'provider_location': volume.provider_location}

    @coordination.synchronized('{self.driver_prefix}-{volume.id}')
    def extend_volume(self, volume, new_size):
        """Grow the volume; its bitmaps grow with it and stay valid."""
        volume_path = self.local_path(volume)
        info = img.info(volume_path, execute=self._run)
        if info['virtual-size'] >= new_size * units.Gi:
            return
        try:
            img.resize(volume_path, new_size * units.Gi, execute=self._run,
                       fmt=info.get('format', 'qcow2'))
        except processutils.ProcessExecutionError as exc:
            raise exception.ExtendVolumeError(
                reason=_('volume %(vol)s: %(err)s')
                % {'vol': volume.id, 'err': exc.stderr or exc})
