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
"""Horizon plugin for volumes of the incsnap Cinder driver.

What it adds to Horizon's own Volumes and Snapshots panels (project
dashboard), wired in by :mod:`incsnap_dashboard.overrides`:

- a *Revert to snapshot* row action (:mod:`incsnap_dashboard.tables`,
  its form in :mod:`incsnap_dashboard.views`), offered where Cinder takes
  it (:mod:`incsnap_dashboard.rules`);
- the chain columns and the progress of a snapshot being created
  (:mod:`incsnap_dashboard.tables`, read by :mod:`incsnap_dashboard.chain`
  from what the driver sets on the snapshot).

:mod:`~incsnap_dashboard.chain` and :mod:`~incsnap_dashboard.rules` are
plain functions over plain data (no Django); the rest is Horizon glue.
"""
