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
"""``incsnap-manage``: see, check and tidy the snapshot chains on a share.

    incsnap-manage [--config-file /etc/cinder/cinder.conf] [--backend NAME]
                   [--share-dir PATH] COMMAND

Commands:

``chains [--json]``
    per volume, each snapshot's kind, parent, depth, hidden flag, own size
    (allocated bytes of its file), chain size (own + ancestors), why a full
    was full, and how it was taken (online/offline).
``verify [--json] [--offline] [--min-age S]``
    checks qcow2 chains, backing names, bitmaps and chain documents against
    each other; one line per problem; exit 1 on any error.
``gc [--delete] [--min-age S]``
    lists orphan files (and, with ``--delete`` only, removes them).

Shares come from the backends of cinder.conf whose ``volume_driver`` is
this driver (all in ``enabled_backends``, or those named by ``--backend``):
each share of ``nfs_shares_config`` is looked for at the mount point the
driver itself computes (``<nfs_mount_point_base>/<md5 of the share>``).
``--share-dir`` names a mounted share directly. No Cinder database is
needed. Run it as root or as the cinder user, on a host with the shares
mounted.

Exit codes: 0 fine, 1 problems found (verify) or something refused (gc),
2 usage or configuration error.
"""

import os
import sys
import warnings

from oslo_config import cfg

from incsnap_driver import layout
from incsnap_driver import manage_checks as checks
from incsnap_driver import manage_scan as scan_mod

OUR_DRIVERS = ('incsnap_driver.driver.IncrementalSnapshotNfsDriver',)
EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
DEFAULT_MIN_AGE = 600


# Cinder's volume manager defines this option; importing the manager only
# to read it would pull in most of Cinder. The same definition here
# (a duplicate registration is ignored by Cinder's Configuration).
VOLUME_DRIVER_OPT = cfg.StrOpt('volume_driver',
                               default='cinder.volume.drivers.lvm.'
                                       'LVMVolumeDriver',
                               help='Driver to use for volume creation')


class UsageError(Exception):
    """A usage or configuration error: exit 2 with this message."""


def _add_commands(subparsers):
    subparsers.required = True
    chains = subparsers.add_parser(
        'chains', help='show each volume\'s snapshot chain')
    chains.add_argument('--json', action='store_true',
                        help='print JSON instead of a table')
    verify = subparsers.add_parser(
        'verify', help='check chains, files and bitmaps; exit 1 on errors')
    verify.add_argument('--json', action='store_true',
                        help='print JSON instead of one line per problem')
    verify.add_argument('--offline', action='store_true',
                        help='no VM runs any of these volumes: a bitmap '
                             'left in-use is then an error (inconsistent)')
    verify.add_argument('--min-age', type=int, default=DEFAULT_MIN_AGE,
                        metavar='SECONDS',
                        help='leftover files younger than this may belong '
                             'to a running operation: warnings, not errors '
                             '(default %(default)s)')
    gc = subparsers.add_parser(
        'gc', help='list orphan files; remove them with --delete')
    gc.add_argument('--delete', action='store_true',
                    help='remove the orphans listed')
    gc.add_argument('--min-age', type=int, default=DEFAULT_MIN_AGE,
                    metavar='SECONDS',
                    help='never remove files modified less than this many '
                         'seconds ago (default %(default)s)')


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


def _quiet_imports():
    # Cinder imports eventlet, which warns on import; noise for a CLI.
    warnings.filterwarnings('ignore', message=r'(?s).*[Ee]ventlet')


# -- where the shares are --------------------------------------------------

def mounted_paths(proc_mounts='/proc/mounts'):
    paths = set()
    try:
        with open(proc_mounts) as f:
            for line in f:
                fields = line.split()
                if len(fields) > 1:
                    paths.add(fields[1].replace('\\040', ' '))
    except OSError:
        pass
    return paths


def backend_shares(conf, names):
    """[(backend, share, mount point)] of our backends, as the driver sees.

    The driver object itself reads ``nfs_shares_config`` (or ``nas_host``
    and ``nas_share_path``) and computes each mount point; it is only
    constructed, never set up: nothing is mounted, no database is used.
    """
    _quiet_imports()
    from cinder.volume import configuration

    from incsnap_driver import driver as driver_mod

    enabled = list(conf.enabled_backends or [])
    explicit = bool(names)
    if not names:
        names = enabled
        if not names:
            raise UsageError(
                'no backend to read: enabled_backends is empty in %s; '
                'name one with --backend or a share with --share-dir'
                % (', '.join(conf.config_file) or 'the configuration '
                   '(no --config-file given, none found)'))
    known_sections = set(conf.list_all_sections())
    result = []
    for name in names:
        if explicit and name not in enabled and name not in known_sections:
            raise UsageError('--backend %s: no section [%s] in %s'
                             % (name, name, ', '.join(conf.config_file)))
        bconf = configuration.Configuration([VOLUME_DRIVER_OPT],
                                            config_group=name)
        volume_driver = bconf.safe_get('volume_driver')
        if volume_driver not in OUR_DRIVERS:
            if explicit:
                raise UsageError(
                    '--backend %s: its volume_driver is %s, not %s'
                    % (name, volume_driver, OUR_DRIVERS[0]))
            continue
        drv = driver_mod.IncrementalSnapshotNfsDriver(
            configuration=bconf, host='incsnap-manage@%s' % name)
        shares_config = bconf.safe_get('nfs_shares_config')
        if not (bconf.safe_get('nas_host') and
                bconf.safe_get('nas_share_path')):
            if not shares_config:
                raise UsageError('[%s] nfs_shares_config is not set' % name)
            if not os.path.isfile(shares_config):
                raise UsageError('[%s] nfs_shares_config: file %s does not '
                                 'exist' % (name, shares_config))
        try:
            drv._load_shares_config(shares_config)
        except OSError as exc:
            raise UsageError('[%s] nfs_shares_config: cannot read %s: %s'
                             % (name, shares_config, exc))
        if not drv.shares:
            raise UsageError('[%s] no share in %s' % (name, shares_config))
        for share in drv.shares:
            result.append((name, share, drv._get_mount_point_for_share(share)))
    if not result:
        raise UsageError('no backend in enabled_backends (%s) has '
                         'volume_driver = %s' % (', '.join(enabled),
                                                 OUR_DRIVERS[0]))
    return result


def share_dirs(conf, err=sys.stderr):
    """[(label, directory)] to read; unmounted shares are reported."""
    dirs = []
    for path in conf.share_dir:
        if not os.path.isdir(path):
            raise UsageError('--share-dir %s: not a directory' % path)
        dirs.append((path, os.path.realpath(path)))
    if conf.backend or not conf.share_dir:
        mounted = mounted_paths()
        for backend, share, mount_point in backend_shares(conf,
                                                          conf.backend):
            label = '%s (%s, backend %s)' % (mount_point, share, backend)
            if mount_point not in mounted:
                err.write('incsnap-manage: share %s of backend %s is not '
                          'mounted at %s; skipped\n'
                          % (share, backend, mount_point))
                continue
            dirs.append((label, mount_point))
        if not dirs:
            raise UsageError('none of the configured shares is mounted on '
                             'this host')
    return dirs


# -- commands --------------------------------------------------------------

def _size(value):
    if value is None:
        return '-'
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(value) < 1024 or unit == 'TiB':
            return ('%d %s' % (value, unit) if unit == 'B'
                    else '%.1f %s' % (value, unit))
        value /= 1024.0


def cmd_chains(conf, dirs, out):
    report = []
    for label, directory in dirs:
        _listing, scans = scan_mod.scan_share(directory, deep=False)
        share = {'share': label, 'volumes': []}
        for scan in scans:
            volume = {'volume': scan.volume_id,
                      'volume_file_present': scan.volume is not None,
                      'head': scan.chain.head if scan.chain else None,
                      'journal': scan.chain.journal if scan.chain else None,
                      'error': scan.chain_error,
                      'snapshots': checks.chain_rows(scan)}
            share['volumes'].append(volume)
        report.append(share)
    if conf.command.json:
        out.write(scan_mod.to_json(report) + '\n')
        return EXIT_OK
    status = EXIT_OK
    header = ('snapshot', 'kind', 'parent', 'depth', 'hidden', 'own',
              'chain', 'full reason', 'mode')
    for share in report:
        out.write('share %s\n' % share['share'])
        if not share['volumes']:
            out.write('  (no volume with snapshots)\n')
        for volume in share['volumes']:
            out.write('\nvolume %s  head %s%s\n' % (
                volume['volume'], volume['head'] or '-',
                '' if volume['volume_file_present']
                else '  (volume file missing)'))
            if volume['error']:
                out.write('  UNREADABLE: %s\n' % printable(volume['error']))
                status = EXIT_PROBLEMS
                continue
            if not volume['snapshots']:
                out.write('  (no snapshots)\n')
                continue
            rows = [header]
            for row in volume['snapshots']:
                rows.append((
                    row['id'] + (' *' if row['head'] else ''),
                    row['kind'], row['parent'] or '-', str(row['depth']),
                    'yes' if row['hidden'] else 'no',
                    _size(row['own_bytes']) if row['present']
                    else 'MISSING',
                    _size(row['chain_bytes']),
                    row['full_reason'] or '-', row['mode'] or '-'))
                rows[-1] = tuple(printable(cell) for cell in rows[-1])
            widths = [max(len(r[i]) for r in rows)
                      for i in range(len(header))]
            for row in rows:
                out.write('  ' + '  '.join(
                    cell.ljust(width) for cell, width in zip(row, widths)
                ).rstrip() + '\n')
    out.write('\n(* head: the snapshot whose bitmap the volume carries)\n')
    return status


def printable(text):
    """``text`` with its control characters escaped.

    A hostile file name then cannot forge output lines or drive the
    terminal.
    """
    return ''.join(c if c.isprintable() else
                   c.encode('unicode_escape').decode('ascii')
                   for c in str(text))


def format_problem(problem):
    where = []
    if problem.volume:
        where.append('volume %s' % problem.volume)
    if problem.snapshot:
        where.append('snapshot %s' % problem.snapshot)
    if problem.file:
        where.append('file %s' % problem.file)
    return printable('%-7s %s: %s [%s]' % (
        problem.severity.upper(), ' '.join(where), problem.message,
        problem.code))


def cmd_verify(conf, dirs, out):
    args = conf.command
    results = []
    volumes = 0
    for label, directory in dirs:
        listing, scans = scan_mod.scan_share(directory)
        problems = checks.share_problems(listing, min_age=args.min_age)
        for scan in scans:
            volumes += 1
            problems += checks.check_volume(scan, offline=args.offline,
                                            min_age=args.min_age)
        results.append((label, directory, problems))
    errors = sum(1 for _l, _d, ps in results for p in ps
                 if p.severity == checks.ERROR)
    warnings_ = sum(1 for _l, _d, ps in results for p in ps
                    if p.severity == checks.WARNING)
    if args.json:
        out.write(scan_mod.to_json({
            'ok': errors == 0, 'errors': errors, 'warnings': warnings_,
            'volumes': volumes,
            'shares': [{'share': label, 'path': directory,
                        'problems': [p.as_dict() for p in problems]}
                       for label, directory, problems in results]}) + '\n')
    else:
        for label, directory, problems in results:
            out.write('share %s\n' % label)
            for problem in problems:
                out.write(format_problem(problem) + '\n')
        out.write('%d volume(s) with snapshots checked: %d error(s), '
                  '%d warning(s)\n' % (volumes, errors, warnings_))
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_gc(conf, dirs, out):
    args = conf.command
    status = EXIT_OK
    for label, directory in dirs:
        listing, scans = scan_mod.scan_share(directory, deep=False)
        removable, refused = checks.gc_plan(listing, scans,
                                            min_age=args.min_age)
        out.write('share %s\n' % label)
        for orphan in removable:
            if args.delete:
                try:
                    remove_orphan(directory, orphan)
                except (OSError, UnsafePath) as exc:
                    out.write('NOT REMOVED %s: %s\n' % (orphan.path, exc))
                    status = EXIT_PROBLEMS
                    continue
                out.write('removed %s  (%s)\n' % (printable(orphan.path),
                                                  orphan.reason))
            else:
                out.write('orphan  %s  (%s)\n' % (printable(orphan.path),
                                                  orphan.reason))
        for problem in refused:
            out.write(format_problem(problem) + '\n')
            if problem.severity == checks.ERROR:
                status = EXIT_PROBLEMS
        if removable and not args.delete:
            out.write('%d orphan(s); incsnap-manage gc --delete removes '
                      'them\n' % len(removable))
        elif not removable:
            out.write('no orphans\n')
    return status


class UnsafePath(Exception):
    """A path to remove that is not plainly inside the share."""


def _checked_path(share_dir, relative):
    """The absolute path of ``relative``, refused unless plainly inside.

    The file is unlinked, never followed: it must not be a symlink, and its
    folder must be a real folder of the share (no symlink on the way).
    """
    path = os.path.join(share_dir, relative)
    parent = os.path.dirname(path)
    if (not layout.is_inside(share_dir, path) or
            os.path.realpath(parent) != os.path.normpath(parent) or
            os.path.islink(path)):
        raise UnsafePath('is a symlink, inside one, or outside the share '
                         '%s; not removed' % share_dir)
    return path


def remove_orphan(share_dir, orphan):
    """Remove one orphan file or orphan snapshot folder."""
    share_dir = os.path.realpath(share_dir)
    path = _checked_path(share_dir, orphan.path)
    if not orphan.is_folder:
        os.unlink(path)
        return
    # A snapshot folder whose volume is gone: its files one by one (each
    # checked), then the folder; anything unexpected stops it.
    for name in os.listdir(path):
        child = _checked_path(share_dir, os.path.join(orphan.path, name))
        if not os.path.isfile(child):
            raise UnsafePath('%s is not a regular file' % child)
        os.unlink(child)
    os.rmdir(path)


COMMANDS = {'chains': cmd_chains, 'verify': cmd_verify, 'gc': cmd_gc}


def main(argv=None, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    argv = sys.argv[1:] if argv is None else argv
    # The global CONF: the options Cinder and its drivers register on it
    # are the ones read from the backend sections.
    conf = cfg.CONF
    _quiet_imports()
    # Cinder's core options, CLI ones among them (state_path, which
    # nfs_mount_point_base refers to): registered before parsing.
    from cinder.common import config as _cinder_config  # noqa: F401
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
        return EXIT_USAGE
    try:
        dirs = share_dirs(conf, err)
    except UsageError as exc:
        err.write('incsnap-manage: %s\n' % exc)
        return EXIT_USAGE
    except cfg.Error as exc:
        err.write('incsnap-manage: configuration error: %s\n' % exc)
        return EXIT_USAGE
    status = COMMANDS[conf.command.name](conf, dirs, out)
    out.flush()
    return status


if __name__ == '__main__':
    sys.exit(main())
