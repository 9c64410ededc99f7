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
"""The plugin's calls to Cinder (through Horizon's Cinder API module).

Horizon's wrappers keep only some of a snapshot's fields; :func:`fields`
gives all of them as the API returned them (the progress is one of those
Horizon drops).
"""

from openstack_dashboard.api import cinder

from incsnap_dashboard import rules


def fields(resource):
    """The API's own dict of a Horizon-wrapped (or raw) Cinder resource."""
    raw = getattr(resource, '_apiresource', resource)
    return dict(getattr(raw, '_info', None) or {})


def as_volume(volume):
    return rules.Volume(id=volume.id, status=volume.status,
                        size=volume.size, name=getattr(volume, 'name', None))


def as_snapshot(snapshot):
    return rules.Snapshot(id=snapshot.id, volume_id=snapshot.volume_id,
                          status=snapshot.status, size=snapshot.size,
                          created_at=getattr(snapshot, 'created_at', None),
                          name=getattr(snapshot, 'name', None))


def snapshots_of(request, volume_id):
    """Every snapshot of the volume (one unpaged listing)."""
    return [as_snapshot(s) for s in cinder.volume_snapshot_list(
        request, search_opts={'volume_id': volume_id})]


def revert_check(request, snapshot_id):
    """(volume, snapshot, refusal) as Cinder has them now.

    The volume comes from Cinder's client itself: Horizon's volume_get
    also asks Nova about the servers of an attached volume, which fails
    where there is no Nova, and is not needed here.
    """
    snapshot = as_snapshot(cinder.volume_snapshot_get(request, snapshot_id))
    volume = as_volume(
        cinder.cinderclient(request).volumes.get(snapshot.volume_id))
    reason = rules.refusal(volume, snapshot,
                           snapshots_of(request, volume.id))
    return volume, snapshot, reason


def volume_revert_check(request, volume_id):
    """(volume, its newest snapshot or None, refusal) as Cinder has them."""
    volume = as_volume(cinder.cinderclient(request).volumes.get(volume_id))
    snapshot, reason = rules.volume_refusal(
        volume, snapshots_of(request, volume_id))
    return volume, snapshot, reason


def revert(request, volume_id, snapshot_id):
    """Ask Cinder to revert the volume (microversion 3.40)."""
    client = cinder.cinderclient(request, rules.REVERT_MICROVERSION)
    client.volumes.revert_to_snapshot(volume_id, snapshot_id)
