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
"""What every operation of one backend needs: its settings, how to run.

Built once by the driver at set-up (:func:`make`) from its configuration
and the root-helper choice of Cinder's NFS driver; plain values from then
on, so that code without a driver object can run the operations too.
"""

import dataclasses
import functools
import os
import typing

from cinder.i18n import _
from oslo_concurrency import processutils
from oslo_log import log as logging

from incsnap_driver.ops import errors
from incsnap_driver import options
from incsnap_driver.qemu import owner as owner_mod
from incsnap_driver.qemu import version as qemu_version

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Backend:
    """One backend's settings and means.

    ``execute``: runs an argument list, through the root helper when the
    NAS options ask for it. ``owner_uid``: the user the QEMU tools' new
    files are handed to (when they run as root for a non-root service).
    ``secure_permissions``: ``nas_secure_file_permissions`` is on (files
    mode 660, else readable and writable by all). ``copy_speed``: bytes
    per second of a copy job, 0 unlimited (``volume_copy_bps_limit``).
    ``sparse``: new volume files are sparse (``nfs_sparsed_volumes``).
    ``service``: Cinder's ``host@backend`` of the service, marked on the
    QEMU tools it starts (:meth:`owner`). ``execute_self``: runs an
    argument list as this process, never through the root helper (see
    :meth:`runner`); None: as ``execute``.
    """

    settings: options.Settings
    execute: typing.Callable
    owner_uid: typing.Optional[int] = None
    secure_permissions: bool = True
    copy_speed: int = 0
    sparse: bool = True
    service: str = ''
    execute_self: typing.Optional[typing.Callable] = None

    def runner(self, reads=(), creates_in=()):
        """The runner for a command reading and creating files.

        ``reads``: files the command reads; ``creates_in``: folders it
        creates files in. As this process when it may do that itself,
        else :attr:`execute`.

        The root helper starts a new process per command (sudo and
        cinder-rootwrap, ~0.2 s of CPU each): a snapshot's ``qemu-img
        info`` of a readable volume and ``qemu-img create`` of its target
        in the service's own folder do not need it. A file created so is
        the service's, as the chain document beside it is.
        """
        if self.execute_self is not None and \
                all(os.access(p, os.R_OK) for p in reads) and \
                all(os.access(d, os.W_OK | os.X_OK) for d in creates_in):
            return self.execute_self
        return self.execute

    def owner(self):
        """This process as the owner of the tools it starts now.

        Computed at each start: a service process may be forked after
        the backend was built (one process per backend).
        """
        return owner_mod.current(self.service)

    @property
    def file_mode(self):
        """Mode of the files the driver writes itself (chain documents)."""
        return 0o660 if self.secure_permissions else 0o666

    def policy(self, availability_zone):
        """The snapshot policy of a volume in ``availability_zone``."""
        return options.resolve(self.settings, availability_zone)

    def set_permissions(self, path):
        """Set a new file's mode as Cinder's NFS driver does its volumes'."""
        if self.secure_permissions:
            permissions = '660'
            LOG.debug('File path %(path)s is being set with permissions: '
                      '%(permissions)s',
                      {'path': path, 'permissions': permissions})
        else:
            permissions = 'ugo+rw'
            LOG.warning('%(path)s is being set with open permissions: '
                        '%(perm)s', {'path': path, 'perm': permissions})
        if os.stat(path).st_uid == os.geteuid():
            # This process's own file (see runner): no root helper needed.
            os.chmod(path, self.file_mode)
            return
        self.execute('chmod', permissions, path)

    def remove(self, path):
        """Remove a file (gone already is fine), as root when it must."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except PermissionError:
            self.execute('rm', '-f', path)


def make(settings, execute, as_root, secure_permissions, copy_speed,
         sparse, service):
    """The :class:`Backend` of a driver set up with these values.

    ``execute``: Cinder's command runner; ``as_root``: the NFS driver's
    root-helper choice (off with ``nas_secure_file_operations``);
    ``service``: Cinder's ``host@backend``.
    """
    uid = os.geteuid()
    return Backend(settings=settings,
                   execute=functools.partial(execute, run_as_root=as_root),
                   owner_uid=uid if as_root and uid != 0 else None,
                   secure_permissions=secure_permissions,
                   copy_speed=int(copy_speed or 0),
                   sparse=bool(sparse), service=service,
                   execute_self=(functools.partial(execute, run_as_root=False)
                                 if as_root else None))


def check_qemu(backend):
    """The QEMU version found; refuse one that cannot do what is configured.

    Incremental snapshots (on for the backend or for any zone) need QEMU
    >= :data:`incsnap_driver.qemu.version.MIN_QEMU`.
    """
    try:
        out, _err = backend.execute('qemu-img', '--version')
        found = qemu_version.parse(out)
    except (processutils.ProcessExecutionError, OSError,
            ValueError) as exc:
        raise errors.DriverFailed(_('incsnap: cannot run qemu-img: %s')
                                  % exc)
    settings = backend.settings
    if settings.incremental or any(settings.incremental_by_az.values()):
        problem = qemu_version.check(found)
        if problem:
            LOG.error('incsnap: %s', problem)
            raise errors.DriverFailed(problem)
    return found
