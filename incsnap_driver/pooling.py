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
"""Each share one pool: the driver's side of it (Cinder glue).

The decisions are :mod:`incsnap_driver.ops.pools`; the move itself
:mod:`incsnap_driver.ops.move`. Mixed into the driver before Cinder's
NFS driver, whose share handling it uses.
"""

import os

from cinder import exception
from cinder.volume import volume_utils
from oslo_log import log as logging

from incsnap_driver import cinder_errors
from incsnap_driver.ops import move
from incsnap_driver.ops import pools
from incsnap_driver import volume_lock

LOG = logging.getLogger(__name__)


class SharePools:
    """Pools, placement by pool and moves between pools."""

    def _share_capacity(self, share):
        total, free, _allocated = self._get_capacity_info(share)
        if self.configuration.nfs_sparsed_volumes:
            # As the NFS driver counts it: every file's apparent size.
            out, _err = self._execute(
                'du', '--bytes', '-s', self._get_mount_point_for_share(share),
                run_as_root=self._execute_as_root)
            provisioned = float(out.split()[0])
        else:
            provisioned = total - free
        return pools.ShareCapacity(share, total, free, provisioned)

    def get_pool(self, volume):
        """The pool of a volume: its share (Cinder's init_host asks)."""
        return pools.pool_name(volume.provider_location) \
            if volume.provider_location else None

    def _find_share(self, volume):
        """The share of the pool the scheduler chose for a new volume.

        A host without a pool of ours (one named before the shares were
        pools) gets the NFS driver's choice among all shares.
        """
        pool = volume_utils.extract_host(volume.host, 'pool')
        share = pools.share_of_pool(pool, self._mounted_shares)
        if share is None:
            LOG.info('Volume %(vol)s: pool %(pool)s is no share of this '
                     'backend; choosing among all shares.',
                     {'vol': volume.id, 'pool': pool})
            return super()._find_share(volume)
        if not self._is_share_eligible(share, volume.size):
            raise exception.NfsNoSuitableShareFound(volume_size=volume.size)
        return share

    def migrate_volume(self, context, volume, host):
        """Move a detached volume to another pool (share) of this backend.

        Anything else (another backend, an attached volume) is declined
        and left to Cinder's generic migration.
        """
        plan = pools.plan_move(volume.host, host['host'], self._mounted_shares,
                               attached=volume.attach_status == 'attached')
        if plan.share is None:
            LOG.info('Volume %(vol)s: not moved by the driver to %(dest)s: '
                     '%(why)s.', {'vol': volume.id, 'dest': host['host'],
                                  'why': plan.reason})
            return False, None
        self._move(volume, plan.share)
        return True, {'provider_location': plan.share}

    @cinder_errors.as_cinder_exceptions
    @volume_lock.synchronized('{self.driver_prefix}-{volume.id}')
    def _move(self, volume, share):
        self._ensure_share_mounted(share)
        dest = self._get_mount_point_for_share(share)
        move.move(self._open(volume), os.path.join(dest, volume.name),
                  volume.size, also=[self._local_path_volume_info(volume)])
