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

This class is glue: Cinder objects in, one call to an operation of
:mod:`incsnap_driver.ops` with plain values, model updates and Cinder
exceptions out. Every entry point that reads or writes a volume's files
or its chain document runs under that volume's coordination lock, the
one Cinder's NFS driver takes (``nfs-<volume id>``), logged
(:mod:`incsnap_driver.volume_lock`): with ``[coordination] backend_url``
on etcd the lock excludes across the nodes of an active-active cluster,
which the driver supports (``SUPPORTS_ACTIVE_ACTIVE``). A volume made
from another (a snapshot's volume, a clone's source) holds both locks.
"""

from cinder import exception
from cinder.image import image_utils
from cinder import interface
from cinder.volume.drivers import nfs
from oslo_log import log as logging

from incsnap_driver import backup_views
from incsnap_driver import cinder_errors
from incsnap_driver import online
from incsnap_driver.ops import backend as backend_mod
from incsnap_driver.ops import backup as backup_op
from incsnap_driver.ops import copies
from incsnap_driver.ops import delete
from incsnap_driver.ops import pools
from incsnap_driver.ops import revert
from incsnap_driver.ops import snapshot as snapshot_op
from incsnap_driver.ops import volume as volume_op
from incsnap_driver import options
from incsnap_driver import pooling
from incsnap_driver import stuck
from incsnap_driver import volume_lock

LOG = logging.getLogger(__name__)

VERSION = '1.0.0'

_cinder_errors = cinder_errors.as_cinder_exceptions
_locked = volume_lock.synchronized


@interface.volumedriver
class IncrementalSnapshotNfsDriver(pooling.SharePools,
                                   backup_views.BackupViews,
                                   nfs.NfsDriver):
    """NFS driver whose snapshots are incremental qcow2 files.

    Volumes are single qcow2 v3 files (never overlays); each snapshot is a
    separate qcow2 file in the volume's snapshot folder, full or holding
    only the clusters written since its parent.
    """

    VERSION = VERSION
    volume_backend_name = 'incsnap'
    CI_WIKI_NAME = 'incsnap_CI'
    # Safe in a cluster of cinder-volume services (README "Active-active
    # cluster"): every volume's files under its coordination lock, no
    # state in one process's memory, recovery decided by the lock.
    SUPPORTS_ACTIVE_ACTIVE = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(options.incsnap_opts)
        # ops.backend.Backend, from do_setup on.
        self.backend = None
        # Where raw views for cinder-backup live, from do_setup on.
        self.views_root = None
        # Interrupted work is recovered when Cinder starts the service.
        self.startup_recovery = stuck.StartupRecovery(self)
        # The volumes are always qcow2 files.
        self.format = 'qcow2'

    @staticmethod
    def get_driver_options():
        return nfs.NfsDriver.get_driver_options() + options.incsnap_opts

    # -- setup -------------------------------------------------------------

    @_cinder_errors
    def do_setup(self, context):
        try:
            settings = options.read(self.configuration)
        except options.InvalidOption as exc:
            LOG.error('incsnap: %s', exc)
            raise exception.InvalidConfigurationValue(
                option=exc.option,
                value=exc.value if exc.value is not None else exc.reason)
        super().do_setup(context)
        self.format = 'qcow2'
        self.views_root = backup_op.views_root(self._get_mount_point_base())
        conf = self.configuration
        # After the NFS driver's set-up: it settles the NAS security
        # options and with them the root-helper choice.
        self.backend = backend_mod.make(
            settings, self._execute, self._execute_as_root,
            secure_permissions=conf.nas_secure_file_permissions == 'true',
            copy_speed=conf.safe_get('volume_copy_bps_limit'),
            sparse=conf.nfs_sparsed_volumes, service=self.host or '')
        found = backend_mod.check_qemu(self.backend)
        LOG.info('incsnap driver %(ver)s: QEMU %(qemu)s, incremental '
                 'snapshots %(inc)s (delta max %(dm)s), AZ overrides '
                 '%(azi)s / %(azd)s',
                 {'ver': VERSION, 'qemu': '.'.join(map(str, found)),
                  'inc': settings.incremental, 'dm': settings.delta_max,
                  'azi': settings.incremental_by_az,
                  'azd': settings.delta_max_by_az})

    def update_provider_info(self, volumes, snapshots):
        """Note this host's resources a killed service left in transit.

        Cinder's ``init_host`` calls this with this host's volumes and
        snapshots before the service takes requests; no provider info is
        changed.
        """
        self.startup_recovery.note(volumes, snapshots)
        return None, None

    def set_initialized(self):
        """Initialized: recover interrupted work, in a green thread.

        Cinder's ``init_host`` calls this once the driver is set up and
        every volume was seen; it then runs its own clean-up and starts
        serving without waiting for the scan.
        """
        super().set_initialized()
        self.startup_recovery.start()
        # Raw views for cinder-backup left by a killed service.
        try:
            backup_op.close_all(self.backend, self.views_root)
        except Exception as exc:
            LOG.warning('incsnap: could not close raw views left in %s: '
                        '%s', self.views_root, exc)

    def _check_snapshot_support(self, setup_checking=False):
        """Snapshots are this driver's own: no nfs_snapshot_support needed.

        The stock switch governs the stock overlay snapshots, which this
        driver does not use, and its objection to secure NAS file
        operations does not apply either: qcow2 tools run as the service
        user then.
        """

    def _update_volume_stats(self):
        """The backend's stats: one pool per share, totals from them.

        Each share's capacity is read once (``stat -f`` and ``du``); the
        NFS driver's own stats would read every share again for the
        backend's totals.
        """
        self._ensure_shares_mounted()
        ours = {'sparse_copy_volume': True}
        if self.backend is not None:
            settings = self.backend.settings
            ours.update(incremental_snapshots=settings.incremental,
                        snapshot_delta_max=settings.delta_max)
        conf = self.configuration
        self._stats = pools.backend_stats(
            [self._share_capacity(share) for share in self._mounted_shares],
            backend_name=(conf.safe_get('volume_backend_name') or
                          self.volume_backend_name),
            driver_version=VERSION,
            reserved_percentage=conf.reserved_percentage,
            over_subscription_ratio=self.max_over_subscription_ratio,
            thin=conf.nfs_sparsed_volumes, extra=ours)

    # -- from Cinder's objects to plain values -----------------------------

    def _open(self, volume, deleting=None):
        """The volume's files and chain, interrupted work finished."""
        return volume_op.VolumeContext.open(
            self.backend, volume.id, self.local_path(volume),
            deleting=deleting)

    @staticmethod
    def _attachments(volume):
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

    @staticmethod
    def _progress(snapshot):
        """A progress callback saving the snapshot's progress (throttled)."""
        def save(percent):
            try:
                snapshot.progress = '%d%%' % percent
                snapshot.save()
            except Exception as exc:  # progress is best effort
                LOG.debug('Could not save progress of snapshot %s: %s',
                          snapshot.id, exc)
        return snapshot_op.throttled(save)

    @staticmethod
    def _mark_qcow2(volume):
        volume.admin_metadata['format'] = 'qcow2'
        with volume.obj_as_admin():
            volume.save()

    # -- volumes -----------------------------------------------------------

    @_locked('{self.driver_prefix}-{volume.id}')
    def create_volume(self, volume):
        """Create the volume's file (the NFS driver's create, logged lock)."""
        return super(nfs.NfsDriver, self).create_volume(volume)

    @_cinder_errors
    def _do_create_volume(self, volume):
        """Create the volume as a qcow2 v3 file (persistent bitmaps)."""
        copies.create_volume(self.backend, volume.id, self.local_path(volume),
                             volume.size,
                             encrypted=bool(volume.encryption_key_id))
        self._mark_qcow2(volume)

    def _create_qcow2_file(self, path, size_gb):
        copies.create_qcow2(self.backend, path, size_gb)

    @_cinder_errors
    @_locked('{self.driver_prefix}-{volume.id}')
    def delete_volume(self, volume):
        """Delete the volume and every file of it, hidden snapshots too."""
        if not volume.provider_location:
            LOG.warning('Volume %s has no provider_location; nothing to '
                        'delete.', volume.id)
            return
        files = volume_op.VolumeFiles.checked(volume.id,
                                              self.local_path(volume))
        delete.delete_volume(self.backend, files,
                             also=[self._local_path_volume_info(volume)])

    @_locked('{self.driver_prefix}-{volume.id}')
    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        """Fetch an image into the volume, keeping the volume qcow2 v3."""
        volume_path = self.local_path(volume)
        image_utils.fetch_to_volume_format(
            context, image_service, image_id, volume_path, 'qcow2',
            self.configuration.volume_dd_blocksize, size=volume.size,
            run_as_root=self._execute_as_root)
        copies.fix_up_image(self.backend, volume_path, volume.size)

    @_locked('{self.driver_prefix}-{volume.id}')
    def copy_volume_to_image(self, context, volume, image_service,
                             image_meta):
        """Upload the volume (read through its file) to an image."""
        return self._copy_volume_to_image(context, volume, image_service,
                                          image_meta)

    # -- manage / unmanage ---------------------------------------------------

    @_locked('{self.driver_prefix}-{volume.id}')
    def manage_existing(self, volume, existing_ref):
        """Adopt a file on a share: renamed to the volume's name, locked."""
        return super().manage_existing(volume, existing_ref)

    @_locked('{self.driver_prefix}-{volume.id}')
    def unmanage(self, volume):
        """Cinder forgets the volume; its files stay (after any operation)."""
        return super().unmanage(volume)

    # -- snapshots ---------------------------------------------------------

    @_cinder_errors
    @_locked('{self.driver_prefix}-{snapshot.volume.id}')
    def create_snapshot(self, snapshot):
        """Take a full or incremental snapshot, online or offline."""
        volume = snapshot.volume
        snapshot_op.check_id(snapshot.id)
        attachments = self._attachments(volume)
        # A VM runs one backup job at a time: its other volumes' snapshots
        # (on any node) wait for this one.
        with volume_lock.hold(
                [volume_lock.domain_lock(a.instance_uuid)
                 for a in attachments], 'create_snapshot', self.host):
            record = snapshot_op.create(
                self._open(volume), snapshot.id, volume.availability_zone,
                attachments, progress=self._progress(snapshot))
        return {'metadata': snapshot_op.metadata(snapshot.metadata, record)}

    @_cinder_errors
    @_locked('{self.driver_prefix}-{snapshot.volume.id}')
    def delete_snapshot(self, snapshot):
        volume = snapshot.volume
        delete.delete_snapshot(self._open(volume, deleting=snapshot.id),
                               snapshot.id,
                               attached=volume.attach_status == 'attached')

    @_cinder_errors
    @_locked('{self.driver_prefix}-{volume.id}')
    def revert_to_snapshot(self, context, volume, snapshot):
        """Make the volume byte-identical to ``snapshot`` (see ops.revert)."""
        revert.revert(self._open(volume), snapshot.id,
                      volume.availability_zone)

    # -- copies ------------------------------------------------------------

    @_cinder_errors
    @_locked('{self.driver_prefix}-{snapshot.volume.id}',
             '{self.driver_prefix}-{volume.id}')
    def create_volume_from_snapshot(self, volume, snapshot):
        """A new independent volume with the snapshot's content."""
        source = self._open(snapshot.volume)
        record = source.live_snapshot(snapshot.id)
        self._ensure_shares_mounted()
        volume.provider_location = self._find_share(volume)
        copies.from_snapshot(self.backend, source.files.in_folder(record.file),
                             self.local_path(volume), volume.size, volume.id,
                             snapshot.id)
        self._mark_qcow2(volume)
        return {'provider_location': volume.provider_location}

    @_cinder_errors
    @_locked('{self.driver_prefix}-{src_vref.id}',
             '{self.driver_prefix}-{volume.id}')
    def create_cloned_volume(self, volume, src_vref):
        """A new independent volume with the content of ``src_vref``."""
        self._validate_state(src_vref.status,
                             ['available', 'backing-up', 'downloading'],
                             obj_description='source volume')
        self._ensure_shares_mounted()
        volume.provider_location = self._find_share(volume)
        copies.clone(self.backend, self.local_path(src_vref),
                     self.local_path(volume), volume.size, volume.id,
                     src_vref.id)
        self._mark_qcow2(volume)
        return {'provider_location': volume.provider_location}

    @_cinder_errors
    @_locked('{self.driver_prefix}-{volume.id}')
    def extend_volume(self, volume, new_size):
        """Grow the volume; its bitmaps grow with it and stay valid."""
        copies.extend(self.backend, volume.id, self.local_path(volume),
                      new_size)
