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
"""The commands of ``incsnap-manage``, one module each.

Each has ``NAME``, ``HELP``, ``add_arguments(parser)`` (its argparse
sub-parser) and ``run(conf, shares, out)``: the parsed configuration (its
own arguments in ``conf.command``), the :class:`~..shares.Share` list to
read (none for a command with ``NEEDS_SHARES = False``), the output
stream; it returns the exit code (a :class:`~..exits.UsageError` it
raises exits 2).
:mod:`incsnap_driver.manage.cli` lists them.
"""

DEFAULT_MIN_AGE = 600


def add_min_age(parser, help_text):
    """``--min-age SECONDS``: how old a leftover must be to be garbage."""
    parser.add_argument('--min-age', type=int, default=DEFAULT_MIN_AGE,
                        metavar='SECONDS',
                        help=help_text + ' (default %(default)s)')
