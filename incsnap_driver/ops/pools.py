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
"""Each share a pool: what the scheduler is told, where a volume goes.

Every share of ``nfs_shares_config`` is one pool named by the share as
written there (``host:/export``), so Cinder's scheduler places volumes by
the capacity of each share and a volume's host (``node@backend#pool``)
says which share holds it. Its snapshots and chain stay in the folder
next to its file, on the same share.

Plain functions over plain values; the driver supplies the shares, their
capacity and the hosts Cinder gives it.
"""

import dataclasses
import typing

from cinder.i18n import _
from cinder.volume import volume_utils
from oslo_utils import units


def pool_name(share):
    """The pool that is ``share``: the share itself, as configured."""
    return share


def share_of_pool(pool, shares):
    """The share that pool ``pool`` is, among ``shares``; else ``None``.

    ``None`` also for a host without a pool, or a pool named before the
    shares were pools (the backend's name).
    """
    for share in shares:
        if pool is not None and pool_name(share) == pool:
            return share
    return None


@dataclasses.dataclass(frozen=True)
class ShareCapacity:
    """Bytes of one share: ``total``, ``free``, ``provisioned``."""

    share: str
    total: float
    free: float
    provisioned: float


def _policy(reserved_percentage, over_subscription_ratio, thin):
    """What the backend and every pool say alike of provisioning."""
    return {
        'reserved_percentage': reserved_percentage,
        'max_over_subscription_ratio': over_subscription_ratio,
        'thin_provisioning_support': bool(thin),
        'thick_provisioning_support': not thin,
        'QoS_support': False,
    }


def _figures(total, free, provisioned):
    return {'total_capacity_gb': round(total / units.Gi, 2),
            'free_capacity_gb': round(free / units.Gi, 2),
            'provisioned_capacity_gb': round(provisioned / units.Gi, 2)}


def pool_stats(capacity, reserved_percentage, over_subscription_ratio,
               thin, extra=None):
    """The scheduler's view of one share (one entry of ``pools``).

    ``extra``: capabilities every pool carries (the scheduler filters on
    a pool's own capabilities, not the backend's top level).
    """
    stats = {'pool_name': pool_name(capacity.share)}
    stats.update(_figures(capacity.total, capacity.free,
                          capacity.provisioned))
    stats.update(_policy(reserved_percentage, over_subscription_ratio, thin))
    stats.update(extra or {})
    return stats


def backend_stats(capacities, backend_name, driver_version,
                  reserved_percentage, over_subscription_ratio, thin,
                  extra=None):
    """The backend's stats: a pool per share, the totals their sums.

    ``capacities``: a :class:`ShareCapacity` per mounted share; the
    fields the NFS driver reports at the top level, with the figures
    added up over the shares (the scheduler reads the pools).
    """
    stats = {
        'volume_backend_name': backend_name,
        'vendor_name': 'Open Source',
        'driver_version': driver_version,
        'storage_protocol': 'NFS',
        'pools': [pool_stats(c, reserved_percentage,
                             over_subscription_ratio, thin, extra=extra)
                  for c in capacities],
    }
    stats.update(_figures(sum(c.total for c in capacities),
                          sum(c.free for c in capacities),
                          sum(c.provisioned for c in capacities)))
    stats.update(_policy(reserved_percentage, over_subscription_ratio, thin))
    stats.update(extra or {})
    return stats


@dataclasses.dataclass(frozen=True)
class Move:
    """What a requested migration comes to.

    ``share``: the share to move the volume to, or ``None`` when the
    driver declines and leaves the migration to Cinder; ``reason`` says
    why it declined.
    """

    share: typing.Optional[str]
    reason: str = ''


def plan_move(volume_host, dest_host, shares, attached):
    """Whether this driver moves a volume from ``volume_host`` itself.

    It does when ``dest_host`` (Cinder's ``node@backend#pool``) is another
    pool of the same backend (same ``node@backend``) that is one of
    ``shares``, and the volume is detached (an attached one is Nova's to
    move: Cinder's generic migration swaps it under the guest).
    """
    ours = volume_utils.extract_host(volume_host, 'backend')
    theirs = volume_utils.extract_host(dest_host, 'backend')
    if ours != theirs:
        return Move(None, _('destination %(dest)s is another backend than '
                            '%(ours)s') % {'dest': dest_host, 'ours': ours})
    pool = volume_utils.extract_host(dest_host, 'pool')
    share = share_of_pool(pool, shares)
    if share is None:
        return Move(None, _('pool %(pool)s of %(dest)s is none of the shares '
                            'of this backend (%(shares)s)')
                    % {'pool': pool, 'dest': dest_host,
                       'shares': ', '.join(shares) or '-'})
    if pool == volume_utils.extract_host(volume_host, 'pool'):
        return Move(None, _('the volume is on pool %s already') % pool)
    if attached:
        return Move(None, _('the volume is attached'))
    return Move(share)
