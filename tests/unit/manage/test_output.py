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
"""incsnap-manage's output: hostile names stay on their line."""

import testtools

from incsnap_driver.manage.checks import model
from incsnap_driver.manage import output
from tests.unit.manage import scans

VOL, S1, S2, S3, OTHER = scans.IDS


class TestOutput(testtools.TestCase):

    def test_hostile_names_cannot_forge_lines(self):
        problem = model.Problem(
            model.WARNING, 'unexpected_name', 'ignored', volume=VOL,
            file='volume-%s.incsnap/x\nERROR   forged\x1b[2J' % VOL)
        line = output.format_problem(problem)
        self.assertEqual(1, len(line.splitlines()))
        self.assertIn('x\\nERROR   forged\\x1b[2J', line)
