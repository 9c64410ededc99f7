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
"""The ``incsnap-manage`` command line: options, commands, exit codes.

See :mod:`incsnap_driver.manage` for the commands and what they read.
"""

import sys

from oslo_config import cfg

from incsnap_driver.manage.commands import chains
from incsnap_driver.manage.commands import gc
from incsnap_driver.manage.commands import stuck
from incsnap_driver.manage.commands import verify
from incsnap_driver.manage import exits
from incsnap_driver.manage import shares

# In the order ``--help`` lists them.
COMMANDS = (chains, verify, gc, stuck)
BY_NAME = {command.NAME: command for command in COMMANDS}


def _add_commands(subparsers):
    subparsers.required = True
    for command in COMMANDS:
        command.add_arguments(subparsers.add_parser(command.NAME,
                                                    help=command.HELP))


cli_opts = [
    cfg.MultiStrOpt('backend', default=[], metavar='NAME',
                    help='cinder.conf backend section to read (repeatable); '
                         'default: every backend in enabled_backends whose '
                         'volume_driver is incsnap\'s'),
    cfg.MultiStrOpt('share-dir', default=[], metavar='PATH',
                    help='a mounted share to read directly (repeatable); '
                         'with only --share-dir, cinder.conf is not read'),
    cfg.SubCommandOpt('command', title='commands', handler=_add_commands),
]


def main(argv=None, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    argv = sys.argv[1:] if argv is None else argv
    # The global CONF: the options Cinder and its drivers register on it
    # are the ones read from the backend sections.
    conf = cfg.CONF
    shares.register_cinder_opts()
    for opt in cli_opts:
        try:
            conf.register_cli_opt(opt)
        except cfg.ArgsAlreadyParsedError:
            conf.reset()
            conf.register_cli_opt(opt)
    try:
        conf(argv, project='cinder', prog='incsnap-manage')
    except cfg.Error as exc:
        err.write('incsnap-manage: %s\n' % exc)
        return exits.EXIT_USAGE
    command = BY_NAME[conf.command.name]
    try:
        found = (shares.share_dirs(conf, err)
                 if getattr(command, 'NEEDS_SHARES', True) else [])
        status = command.run(conf, found, out)
    except exits.UsageError as exc:
        err.write('incsnap-manage: %s\n' % exc)
        return exits.EXIT_USAGE
    except cfg.Error as exc:
        err.write('incsnap-manage: configuration error: %s\n' % exc)
        return exits.EXIT_USAGE
    out.flush()
    return status
