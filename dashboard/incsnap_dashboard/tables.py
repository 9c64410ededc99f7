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
"""The Snapshots table with the plugin's columns and its revert action.

:class:`SnapshotsTable` is Horizon's own project Snapshots table plus the
chain columns (kind, depth, parent, why full), the progress column and
the *Revert Volume to Snapshot* row action; :class:`VolumesTable` is
Horizon's Volumes table plus *Revert to Latest Snapshot*.  A snapshot
without incsnap metadata (another backend's) shows "-" in the chain
columns; nothing of Horizon's tables changes.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from horizon import tables

from openstack_dashboard.api import cinder
from openstack_dashboard.dashboards.project.snapshots import \
    tables as snap_tables
from openstack_dashboard.dashboards.project.volumes import \
    tables as vol_tables
from openstack_dashboard import policy

from incsnap_dashboard import api
from incsnap_dashboard import chain
from incsnap_dashboard import rules

REVERT_URL = 'horizon:project:snapshots:incsnap_revert'
VOLUME_REVERT_URL = 'horizon:project:volumes:incsnap_revert'
DETAIL_URL = 'horizon:project:snapshots:detail'


def chain_of(snapshot):
    return chain.chain_info(getattr(snapshot, 'metadata', None))


def revert_refusal(snapshot, siblings):
    """Why this row's snapshot cannot be reverted to (None: it can).

    ``siblings``: the snapshots of the same volume known to the page.
    """
    volume = getattr(snapshot, '_volume', None)
    return rules.refusal(api.as_volume(volume) if volume else None,
                         api.as_snapshot(snapshot),
                         [api.as_snapshot(s) for s in siblings])


class RevertToSnapshot(policy.PolicyTargetMixin, tables.LinkAction):
    """Opens the confirmation dialog (incsnap_dashboard.views).

    Shown for every available snapshot; where Cinder would refuse, it is
    disabled and its title says why (the dialog checks again with what
    Cinder says when it opens).
    """

    name = 'incsnap_revert'
    verbose_name = _('Revert Volume to Snapshot')
    url = REVERT_URL
    classes = ('ajax-modal',)
    icon = 'undo'
    policy_rules = (('volume', 'volume:revert_to_snapshot'),)
    policy_target_attrs = (('project_id',
                            'os-extended-snapshot-attributes:project_id'),)

    def allowed(self, request, snapshot=None):
        return snapshot is not None and snapshot.status == 'available'

    def update(self, request, snapshot):
        reason = self.table.revert_refusal(snapshot)
        if reason:
            self.classes = tuple(self.classes) + ('disabled',)
            self.attrs['title'] = reason
            self.attrs['aria-disabled'] = 'true'
        else:
            self.attrs['title'] = _('Revert the volume to this snapshot')


class ParentColumn(tables.Column):
    """The snapshot an incremental builds on, linked to its page."""

    def get_raw_data(self, snapshot):
        parent = chain_of(snapshot).parent
        if not parent:
            return None
        names = getattr(self.table, 'snapshot_names', {})
        return names.get(parent) or parent

    def get_link_url(self, snapshot):
        parent = chain_of(snapshot).parent
        return reverse(DETAIL_URL, args=(parent,)) if parent else None


def _kind(snapshot):
    return chain_of(snapshot).kind


def _depth(snapshot):
    return chain_of(snapshot).depth


def _full_reason(snapshot):
    return chain_of(snapshot).reason_text


def _progress(snapshot):
    return chain.progress(api.fields(snapshot))


class UpdateRow(snap_tables.UpdateRow):
    """Horizon's refreshing row; it also knows the volume's snapshots."""

    def get_data(self, request, snapshot_id):
        snapshot = super().get_data(request, snapshot_id)
        snapshot._incsnap_siblings = cinder.volume_snapshot_list(
            request, search_opts={'volume_id': snapshot.volume_id})
        return snapshot


class SnapshotsTable(snap_tables.VolumeSnapshotsTable):
    # The classes name the cells (for the browser tests, and for styling).
    chain_kind = tables.Column(_kind, verbose_name=_('Kind'),
                               classes=('incsnap-kind',))
    chain_depth = tables.Column(_depth, verbose_name=_('Chain Depth'),
                                classes=('incsnap-depth',))
    chain_parent = ParentColumn('incsnap_parent', verbose_name=_('Parent'),
                                link=True, classes=('incsnap-parent',))
    chain_reason = tables.Column(_full_reason, verbose_name=_('Why Full'),
                                 classes=('incsnap-reason',))
    progress = tables.Column(_progress, verbose_name=_('Progress'),
                             classes=('incsnap-progress',))

    class Meta(snap_tables.VolumeSnapshotsTable.Meta):
        row_actions = (snap_tables.VolumeSnapshotsTable.Meta.row_actions +
                       (RevertToSnapshot,))
        row_class = UpdateRow

    @property
    def snapshot_names(self):
        return {s.id: s.name for s in (self.data or []) if s.name}

    def revert_refusal(self, snapshot):
        siblings = getattr(snapshot, '_incsnap_siblings', None)
        if siblings is None and self.data:
            siblings = [s for s in self.data
                        if s.volume_id == snapshot.volume_id]
        if siblings is None:
            # A table without rows: the snapshot's page renders its
            # actions with one.
            try:
                siblings = cinder.volume_snapshot_list(
                    self.request,
                    search_opts={'volume_id': snapshot.volume_id})
            except Exception:
                siblings = [snapshot]   # the dialog checks again
        return revert_refusal(snapshot, siblings)


class RevertVolume(vol_tables.VolumePolicyTargetMixin, tables.LinkAction):
    """The volume row's way to the same dialog: its newest snapshot.

    Offered for available volumes (the dialog says when there is no
    snapshot, or why Cinder would refuse).
    """

    name = 'incsnap_revert_volume'
    verbose_name = _('Revert to Latest Snapshot')
    url = VOLUME_REVERT_URL
    classes = ('ajax-modal',)
    icon = 'undo'
    policy_rules = (('volume', 'volume:revert_to_snapshot'),)

    def allowed(self, request, volume=None):
        return volume is not None and volume.status == 'available'


class VolumesTable(vol_tables.VolumesTable):
    class Meta(vol_tables.VolumesTable.Meta):
        row_actions = (vol_tables.VolumesTable.Meta.row_actions +
                       (RevertVolume,))
