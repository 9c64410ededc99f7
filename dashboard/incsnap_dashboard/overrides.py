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
"""Wires the plugin into Horizon's own project Snapshots and Volumes panels.

Horizon imports this module (its ``customization_module``, set by the
plugin's enabled file) once its panels are registered and before their
URLs are compiled.  It swaps in the plugin's table (Horizon's plus
columns and the revert action; the Volumes table plus its revert action),
the snapshot page's overview tab (Horizon's plus the chain facts) and
adds the revert dialog's URLs to the panels.
Horizon's classes themselves are left as they are, so the admin panels
and every other backend's snapshots are unaffected.
"""

from django.urls import re_path

from openstack_dashboard.dashboards.project.snapshots import \
    tables as snap_tables
from openstack_dashboard.dashboards.project.snapshots import \
    tabs as snap_tabs
from openstack_dashboard.dashboards.project.snapshots import \
    urls as snap_urls
from openstack_dashboard.dashboards.project.snapshots import \
    views as snap_views
from openstack_dashboard.dashboards.project.volumes import \
    tables as vol_tables
from openstack_dashboard.dashboards.project.volumes import \
    urls as vol_urls
from openstack_dashboard.dashboards.project.volumes import \
    views as vol_views

from incsnap_dashboard import tables
from incsnap_dashboard import views


def _add_url(urlpatterns, pattern, view, name):
    if not any(getattr(p, 'name', None) == name for p in urlpatterns):
        urlpatterns.append(re_path(pattern, view.as_view(), name=name))


def apply():
    snap_views.SnapshotsView.table_class = tables.SnapshotsTable
    vol_views.VolumesView.table_class = tables.VolumesTable
    # The detail pages render their row actions with the tables of these
    # names.
    snap_views.vol_snapshot_tables = _Module(
        snap_tables, VolumeSnapshotsTable=tables.SnapshotsTable)
    vol_views.volume_tables = _Module(
        vol_tables, VolumesTable=tables.VolumesTable)
    snap_tabs.SnapshotDetailTabs.tabs = tuple(
        views.OverviewTab if tab is snap_tabs.OverviewTab else tab
        for tab in snap_tabs.SnapshotDetailTabs.tabs)
    _add_url(snap_urls.urlpatterns,
             r'^(?P<snapshot_id>[^/]+)/incsnap-revert/$',
             views.RevertView, 'incsnap_revert')
    _add_url(vol_urls.urlpatterns,
             r'^(?P<volume_id>[^/]+)/incsnap-revert/$',
             views.RevertVolumeView, 'incsnap_revert')


class _Module(object):
    """A module of Horizon's, with some of its tables the plugin's."""

    def __init__(self, module, **replaced):
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(self._module, name)


apply()
