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
"""Wires the plugin into Horizon's own project Snapshots panel.

Horizon imports this module (its ``customization_module``, set by the
plugin's enabled file) once its panels are registered and before their
URLs are compiled.  It swaps in the plugin's table (Horizon's plus
columns and the revert action), the detail page's overview tab (Horizon's
plus the chain facts) and adds the revert dialog's URL to the panel.
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

from incsnap_dashboard import tables
from incsnap_dashboard import views


def apply():
    snap_views.SnapshotsView.table_class = tables.SnapshotsTable
    # The detail page renders its row actions with the table of this name.
    snap_views.vol_snapshot_tables = _TablesModule()
    snap_tabs.SnapshotDetailTabs.tabs = tuple(
        views.OverviewTab if tab is snap_tabs.OverviewTab else tab
        for tab in snap_tabs.SnapshotDetailTabs.tabs)
    if not any(getattr(p, 'name', None) == 'incsnap_revert'
               for p in snap_urls.urlpatterns):
        snap_urls.urlpatterns.append(re_path(
            r'^(?P<snapshot_id>[^/]+)/incsnap-revert/$',
            views.RevertView.as_view(), name='incsnap_revert'))


class _TablesModule(object):
    """Horizon's snapshot tables module, with the plugin's table."""

    VolumeSnapshotsTable = tables.SnapshotsTable

    def __getattr__(self, name):
        return getattr(snap_tables, name)


apply()
