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
"""``gc``: list orphan files; remove them with ``--delete``."""

from incsnap_driver.manage.checks import gc
from incsnap_driver.manage.checks import model
from incsnap_driver.manage import commands
from incsnap_driver.manage import exits
from incsnap_driver.manage import output
from incsnap_driver.manage import scan as scan_mod
from incsnap_driver.manage import tidy

NAME = 'gc'
HELP = 'list orphan files; remove them with --delete'


def add_arguments(parser):
    parser.add_argument('--delete', action='store_true',
                        help='remove the orphans listed')
    commands.add_min_age(parser, 'never remove files modified less than '
                                 'this many seconds ago')


def run(conf, shares, out):
    args = conf.command
    status = exits.EXIT_OK
    for share in shares:
        listing, scans = scan_mod.scan_share(share.path, deep=False)
        removable, refused = gc.gc_plan(listing, scans,
                                        min_age=args.min_age)
        out.write('share %s\n' % share.label)
        for orphan in removable:
            if not args.delete:
                out.write('orphan  %s  (%s)\n' % (
                    output.printable(orphan.path), orphan.reason))
                continue
            try:
                tidy.remove_orphan(share.path, orphan)
            except (OSError, tidy.UnsafePath) as exc:
                out.write('NOT REMOVED %s: %s\n' % (orphan.path, exc))
                status = exits.EXIT_PROBLEMS
                continue
            out.write('removed %s  (%s)\n' % (output.printable(orphan.path),
                                              orphan.reason))
        for problem in refused:
            out.write(output.format_problem(problem) + '\n')
            if problem.severity == model.ERROR:
                status = exits.EXIT_PROBLEMS
        if removable and not args.delete:
            out.write('%d orphan(s); incsnap-manage gc --delete removes '
                      'them\n' % len(removable))
        elif not removable:
            out.write('no orphans\n')
    return status
