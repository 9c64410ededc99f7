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
"""Tempest options of the incsnap plugin: group ``[incsnap]``.

They describe how the cloud's incsnap backend (the one behind
``[volume] volume_type``, or the default volume type) is configured, so
that the tests know what to expect.
"""

from oslo_config import cfg

incsnap_group = cfg.OptGroup(
    name='incsnap',
    title='incsnap volume driver options',
    help='How the incsnap backend under test is configured.')

IncsnapGroup = [
    cfg.BoolOpt('enabled',
                default=True,
                help='Whether the volume type under test is backed by the '
                     'incsnap driver.  False skips every test of this '
                     'plugin.'),
    cfg.BoolOpt('kvm_incremental_snapshot',
                default=True,
                help='The backend\'s kvm_incremental_snapshot (for the '
                     'availability zone the tests create volumes in).  '
                     'False: every snapshot is expected full, with '
                     'incsnap:full_reason=disabled.'),
    cfg.IntOpt('snapshot_delta_max',
               default=3,
               min=1,
               help='The backend\'s snapshot_delta_max: a chain is one '
                    'full snapshot and at most snapshot_delta_max - 1 '
                    'incrementals.'),
    cfg.IntOpt('delta_max_sequence_limit',
               default=8,
               min=1,
               help='The delta max sequence test takes '
                    'snapshot_delta_max + 2 snapshots; it skips itself '
                    'when snapshot_delta_max is larger than this.'),
]


def list_opts():
    return [(incsnap_group, IncsnapGroup)]
