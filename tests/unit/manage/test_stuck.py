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
"""The stuck command's rule: what is stuck, who settles it, the call."""

import testtools

from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import stuck
from tests.unit.manage import scans

VOL, S1, S2, S3, OTHER = scans.IDS
HOST = 'node1@incsnap#share'


def row(kind, resource_id, status, age=7200.0):
    return stuck.StuckRow(kind=kind, id=resource_id, volume_id=VOL,
                          status=status, host=HOST, age=age)


class TestStuck(testtools.TestCase):

    def test_each_stuck_resource_with_its_call(self):
        problems = stuck.stuck_problems([
            row('snapshot', S1, 'deleting'),
            row('volume', VOL, 'reverting', age=90000),
            row('snapshot', S2, 'restoring', age=300),
        ], min_age=600)
        self.assertEqual(
            [('error', 'stuck', VOL, S1),
             ('warning', 'stuck_recent', VOL, S2),
             ('error', 'stuck', VOL, None)],
            [(p.severity, p.code, p.volume, p.snapshot) for p in problems])
        deleting, restoring, reverting = problems
        self.assertEqual(
            'snapshot deleting for 2.0 h on %s; settled by the driver when '
            'the service starts again (not in a cluster); else: openstack '
            'volume snapshot set --state error_deleting %s, then delete it '
            'again' % (HOST, S1), deleting.message)
        self.assertIn('for 5.0 min on %s (it may still be in progress)'
                      % HOST, restoring.message)
        self.assertIn('volume reverting for 1.0 d', reverting.message)
        self.assertIn('else: openstack volume set --state available %s'
                      % VOL, reverting.message)

    def test_statuses_cinder_settles_or_that_are_not_transitional(self):
        self.assertEqual([], stuck.stuck_problems([
            row('volume', VOL, 'available'), row('volume', VOL, 'error'),
            row('volume', VOL, 'creating'), row('snapshot', S1, 'error')],
            min_age=0))

    def test_creating_snapshot_and_extending_volume(self):
        problems = stuck.stuck_problems([
            row('snapshot', S1, 'creating'), row('volume', VOL, 'extending')],
            min_age=0)
        self.assertEqual([model.ERROR] * 2, [p.severity for p in problems])
        self.assertIn("settled by Cinder's own clean-up",
                      problems[0].message)
        self.assertIn('settled by nobody: Cinder leaves it',
                      problems[1].message)
