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
"""``verify``: every problem of every volume; exit 1 on any error."""

from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import share as share_checks
from incsnap_driver.manage.checks import verify
from incsnap_driver.manage import commands
from incsnap_driver.manage import exits
from incsnap_driver.manage import output
from incsnap_driver.manage import scan as scan_mod

NAME = 'verify'
HELP = 'check chains, files and bitmaps; exit 1 on errors'


def add_arguments(parser):
    parser.add_argument('--json', action='store_true',
                        help='print JSON instead of one line per problem')
    parser.add_argument('--offline', action='store_true',
                        help='no VM runs any of these volumes: a bitmap '
                             'left in-use is then an error (inconsistent)')
    commands.add_min_age(parser, 'leftover files younger than this may '
                                 'belong to a running operation: warnings, '
                                 'not errors')


def problems_of(share, offline, min_age):
    """(volumes with snapshots, [Problem]) of one share."""
    listing, scans = scan_mod.scan_share(share.path)
    problems = share_checks.share_problems(listing, min_age=min_age)
    for scan in scans:
        problems += verify.check_volume(scan, offline=offline,
                                        min_age=min_age)
    return len(scans), problems


def run(conf, shares, out):
    args = conf.command
    results = []
    volumes = 0
    for share in shares:
        count, problems = problems_of(share, args.offline, args.min_age)
        volumes += count
        results.append((share, problems))
    found = [p.severity for _s, ps in results for p in ps]
    errors = found.count(model.ERROR)
    warnings = found.count(model.WARNING)
    if args.json:
        out.write(output.to_json({
            'ok': errors == 0, 'errors': errors, 'warnings': warnings,
            'volumes': volumes,
            'shares': [{'share': share.label, 'path': share.path,
                        'problems': [p.as_dict() for p in problems]}
                       for share, problems in results]}) + '\n')
    else:
        for share, problems in results:
            out.write('share %s\n' % share.label)
            for problem in problems:
                out.write(output.format_problem(problem) + '\n')
        out.write('%d volume(s) with snapshots checked: %d error(s), '
                  '%d warning(s)\n' % (volumes, errors, warnings))
    return exits.EXIT_PROBLEMS if errors else exits.EXIT_OK
