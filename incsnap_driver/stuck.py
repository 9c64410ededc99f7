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
"""Cinder glue of the start-up recovery.

Cinder's volume manager, starting (``init_host``), sets the driver up,
hands it this host's volumes and snapshots (``update_provider_info``,
before the service takes any request) and marks it initialized
(``set_initialized``); only then does it run its own clean-up of the
workers table and start serving. :class:`StartupRecovery` notes the
resources in a status only a dead service can have left
(:data:`incsnap_driver.interrupted.SETTLED_BY_DRIVER`) from those
objects, and at ``set_initialized`` starts the scan
(:func:`incsnap_driver.ops.startup.run`) in a green thread, so the
service's report is never delayed by it. Statuses are set back with
Cinder's compare-and-swap update: only if the row is unchanged since
start-up.
"""

from cinder import context as cinder_context
from cinder import exception
from cinder.volume import volume_utils
import eventlet
from oslo_config import cfg
from oslo_log import log as logging

from incsnap_driver import interrupted
from incsnap_driver.ops import startup
from incsnap_driver import volume_lock

LOG = logging.getLogger(__name__)


class StartupRecovery:
    """The start-up scan of one driver: what it noted, its green thread."""

    def __init__(self, driver):
        self.driver = driver
        # (kind, id): Stuck. Cinder calls update_provider_info again when
        # it retries a failed init_host: the last one counts.
        self._stuck = {}
        self.thread = None
        self.summary = None

    @property
    def stuck(self):
        return list(self._stuck.values())

    def _ours(self, volume):
        """Whether a volume is this service's to look at.

        On one host: its ``host@backend#pool`` is this service's. In a
        cluster: it is the cluster's (any node may have worked on it; Cinder
        hands init_host the cluster's resources), since its files are on
        the shared shares and the recovery runs under its lock.
        """
        cluster = getattr(self.driver, 'cluster_name', None)
        if cluster:
            return bool(volume.cluster_name) and \
                volume_utils.hosts_are_equivalent(
                    volume_utils.extract_host(volume.cluster_name,
                                              'backend'), cluster)
        host = volume.host
        return bool(host) and volume_utils.hosts_are_equivalent(
            volume_utils.extract_host(host, 'backend'), self.driver.host)

    def _note(self, kind, resource, volume):
        statuses = interrupted.SETTLED_BY_DRIVER[kind]
        if (resource.status not in statuses or
                not volume.provider_location or
                not self._ours(volume)):
            return
        self._stuck[(kind, resource.id)] = interrupted.Stuck(
            kind=kind, id=resource.id, volume_id=volume.id,
            status=resource.status,
            volume_path=self.driver.local_path(volume),
            volume_status=volume.status, token=resource)

    def note(self, volumes, snapshots):
        """Cinder's objects of this host at start-up (one batch of them)."""
        for volume in volumes:
            self._note(interrupted.VOLUME, volume, volume)
        for snapshot in snapshots:
            if snapshot.status in interrupted.SETTLED_BY_DRIVER[
                    interrupted.SNAPSHOT]:
                self._note(interrupted.SNAPSHOT, snapshot, snapshot.volume)

    def start(self):
        """Start the scan in a green thread (once)."""
        if self.thread is None:
            self.thread = eventlet.spawn(self.run)
        return self.thread

    def run(self):
        drv = self.driver
        try:
            drv._ensure_shares_mounted()
            shares = [drv._get_mount_point_for_share(share)
                      for share in drv._mounted_shares]
            # A lock a killed service (this one, before its restart, or a
            # dead peer) held on etcd lapses after its lease: wait that long
            # (and a little) for it before leaving the volume as busy.
            lease = volume_lock.lease_seconds(
                cfg.CONF.coordination.backend_url)
            self.summary = startup.run(
                drv.backend, shares, self.stuck, self._try_lock,
                self._apply, clustered=bool(drv.cluster_name),
                retry_for=lease + 5 if lease else 0.0,
                sleep=eventlet.sleep)
        except Exception:
            LOG.exception('incsnap start-up recovery failed; interrupted '
                          'work is recovered by the next operation on each '
                          'volume.')
        return self.summary

    def _try_lock(self, volume_id):
        # The lock every operation of the driver takes on the volume
        # (volume_lock.synchronized('{self.driver_prefix}-{volume.id}')):
        # held by a peer node (etcd) the volume is busy, and that peer's
        # operation recovers it; no local process or PID file decides.
        return volume_lock.try_hold(
            '%s-%s' % (self.driver.driver_prefix, volume_id),
            'startup_recovery', self.driver.host or '')

    @staticmethod
    def _apply(settlement):
        """Set the status unless the row changed since start-up."""
        resource = settlement.stuck.token
        resource._context = cinder_context.get_admin_context()
        try:
            return bool(resource.conditional_update(
                {'status': settlement.status},
                {'status': settlement.stuck.status,
                 'updated_at': resource.updated_at}))
        except exception.CinderException as exc:
            LOG.warning('Could not set %(kind)s %(id)s to %(status)s: '
                        '%(err)s', {'kind': settlement.stuck.kind,
                                    'id': settlement.stuck.id,
                                    'status': settlement.status,
                                    'err': exc})
            return False
