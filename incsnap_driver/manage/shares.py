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
"""Where the shares are: cinder.conf's backends, ``--share-dir``, mounts.

The shares of a backend are found the way the driver finds them: the
driver object itself is constructed (never set up) from the backend's
section, reads ``nfs_shares_config`` and computes each mount point. No
Cinder database is needed.
"""

import dataclasses
import os
import sys
import typing
import warnings

from oslo_config import cfg

from incsnap_driver.manage import exits

OUR_DRIVERS = ('incsnap_driver.driver.IncrementalSnapshotNfsDriver',)

# Cinder's volume manager defines this option; importing the manager only
# to read it would pull in most of Cinder. The same definition here
# (a duplicate registration is ignored by Cinder's Configuration).
VOLUME_DRIVER_OPT = cfg.StrOpt('volume_driver',
                               default='cinder.volume.drivers.lvm.'
                                       'LVMVolumeDriver',
                               help='Driver to use for volume creation')


@dataclasses.dataclass
class Share:
    """A share to read: how it is named in the output, and its folder."""

    label: str
    path: str
    backend: typing.Optional[str] = None   # its cinder.conf section
    export: typing.Optional[str] = None    # as nfs_shares_config names it


def quiet_imports():
    # Cinder imports eventlet, which warns on import; noise for a CLI.
    warnings.filterwarnings('ignore', message=r'(?s).*[Ee]ventlet')


def register_cinder_opts():
    """Cinder's core options, on the global CONF, before it parses.

    CLI ones among them (state_path, which nfs_mount_point_base refers
    to); the options Cinder and its drivers register on the global CONF
    are the ones read from the backend sections.
    """
    quiet_imports()
    from cinder.common import config as _cinder_config  # noqa: F401


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


def our_backends(conf, names):
    """The backend sections to read: ``names``, or our enabled backends.

    A name given explicitly must be a section whose ``volume_driver`` is
    ours; by default every backend of ``enabled_backends`` that is ours.
    """
    quiet_imports()
    from cinder.volume import configuration

    enabled = list(conf.enabled_backends or [])
    explicit = bool(names)
    if not names:
        names = enabled
        if not names:
            raise exits.UsageError(
                'no backend to read: enabled_backends is empty in %s; '
                'name one with --backend or a share with --share-dir'
                % (', '.join(conf.config_file) or 'the configuration '
                   '(no --config-file given, none found)'))
    known_sections = set(conf.list_all_sections())
    result = []
    for name in names:
        if explicit and name not in enabled and name not in known_sections:
            raise exits.UsageError('--backend %s: no section [%s] in %s'
                                   % (name, name, ', '.join(conf.config_file)))
        bconf = configuration.Configuration([VOLUME_DRIVER_OPT],
                                            config_group=name)
        volume_driver = bconf.safe_get('volume_driver')
        if volume_driver not in OUR_DRIVERS:
            if explicit:
                raise exits.UsageError(
                    '--backend %s: its volume_driver is %s, not %s'
                    % (name, volume_driver, OUR_DRIVERS[0]))
            continue
        result.append(name)
    if not result:
        raise exits.UsageError('no backend in enabled_backends (%s) has '
                               'volume_driver = %s' % (', '.join(enabled),
                                                       OUR_DRIVERS[0]))
    return result


def backend_shares(conf, names):
    """[(backend, share, mount point)] of our backends, as the driver sees.

    The driver object itself reads ``nfs_shares_config`` (or ``nas_host``
    and ``nas_share_path``) and computes each mount point; it is only
    constructed, never set up: nothing is mounted, no database is used.
    """
    from cinder.volume import configuration

    from incsnap_driver import driver as driver_mod

    result = []
    for name in our_backends(conf, names):
        bconf = configuration.Configuration([VOLUME_DRIVER_OPT],
                                            config_group=name)
        drv = driver_mod.IncrementalSnapshotNfsDriver(
            configuration=bconf, host='incsnap-manage@%s' % name)
        shares_config = bconf.safe_get('nfs_shares_config')
        if not (bconf.safe_get('nas_host') and
                bconf.safe_get('nas_share_path')):
            if not shares_config:
                raise exits.UsageError('[%s] nfs_shares_config is not set'
                                       % name)
            if not os.path.isfile(shares_config):
                raise exits.UsageError('[%s] nfs_shares_config: file %s '
                                       'does not exist'
                                       % (name, shares_config))
        try:
            drv._load_shares_config(shares_config)
        except OSError as exc:
            raise exits.UsageError('[%s] nfs_shares_config: cannot read '
                                   '%s: %s' % (name, shares_config, exc))
        if not drv.shares:
            raise exits.UsageError('[%s] no share in %s'
                                   % (name, shares_config))
        for share in drv.shares:
            result.append((name, share, drv._get_mount_point_for_share(share)))
    return result


def share_dirs(conf, err=sys.stderr):
    """[Share] to read; unmounted shares are reported on ``err``."""
    dirs = []
    for path in conf.share_dir:
        if not os.path.isdir(path):
            raise exits.UsageError('--share-dir %s: not a directory' % path)
        dirs.append(Share(path, os.path.realpath(path)))
    if conf.backend or not conf.share_dir:
        mounted = mounted_paths()
        for backend, share, mount_point in backend_shares(conf,
                                                          conf.backend):
            if mount_point not in mounted:
                err.write('incsnap-manage: share %s of backend %s is not '
                          'mounted at %s; skipped\n'
                          % (share, backend, mount_point))
                continue
            dirs.append(Share('%s (%s, backend %s)' % (mount_point, share,
                                                       backend),
                              mount_point, backend=backend, export=share))
        if not dirs:
            raise exits.UsageError('none of the configured shares is '
                                   'mounted on this host')
    return dirs
