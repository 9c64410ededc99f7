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
"""``stuck``: Cinder resources left in a transitional status; exit 1 if any.

Reads Cinder's database (cinder.conf's ``[database]``), not the shares.
"""

from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import stuck as stuck_checks
from incsnap_driver.manage import cinder_db
from incsnap_driver.manage import commands
from incsnap_driver.manage import exits
from incsnap_driver.manage import output

NAME = 'stuck'
HELP = ('list volumes and snapshots left reverting, restoring, deleting, '
        '... and the call that settles each (reads Cinder\'s database)')
NEEDS_SHARES = False


def add_arguments(parser):
    parser.add_argument('--json', action='store_true',
                        help='print JSON instead of one line per resource')
    commands.add_min_age(parser, 'resources changed less than this many '
                                 'seconds ago may still be in progress: '
                                 'warnings, not errors')


def run(conf, shares, out):
    args = conf.command
    hosts = cinder_db.backend_hosts(conf, conf.backend)
    problems = stuck_checks.stuck_problems(
        cinder_db.stuck_rows(conf, [host for _b, host in hosts]),
        min_age=args.min_age)
    errors = [p for p in problems if p.severity == model.ERROR]
    if args.json:
        out.write(output.to_json({
            'ok': not errors, 'hosts': [host for _b, host in hosts],
            'problems': [p.as_dict() for p in problems]}) + '\n')
    else:
        out.write('hosts %s\n' % ', '.join(host for _b, host in hosts))
        for problem in problems:
            out.write(output.format_problem(problem) + '\n')
        out.write('%d resource(s) stuck, %d recently changed\n'
                  % (len(errors), len(problems) - len(errors)))
    return exits.EXIT_PROBLEMS if errors else exits.EXIT_OK
