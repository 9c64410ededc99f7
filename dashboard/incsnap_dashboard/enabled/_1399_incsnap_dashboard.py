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
# The incsnap dashboard plugin: copy this file into Horizon's
# openstack_dashboard/local/enabled/ (after `pip install incsnap-dashboard`
# into Horizon's environment).  It adds no panel of its own: it extends
# the project's Volumes > Snapshots panel (incsnap_dashboard.overrides).
#
# Horizon has one customization_module: when yours is set already,
# import incsnap_dashboard.overrides from it and drop UPDATE_HORIZON_CONFIG
# here.
# Horizon reads an enabled file that names a DASHBOARD, PANEL, PANEL_GROUP
# or FEATURE; this one is a feature of existing panels.
FEATURE = 'incsnap_dashboard'
ADD_INSTALLED_APPS = ['incsnap_dashboard']
UPDATE_HORIZON_CONFIG = {
    'customization_module': 'incsnap_dashboard.overrides',
}
