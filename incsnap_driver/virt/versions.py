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
"""The version gate for snapshots of attached volumes (pure functions).

Facts behind the floors:

* the libvirt backup API (``virDomainBackupBegin``) appeared in libvirt
  6.0.0; without it no online snapshot is possible at all;
* incremental snapshots need libvirt >= 7.6.0 and QEMU >= 6.1, the floors
  Apache CloudStack enforces for the same feature (stable checkpoint and
  bitmap handling; ``REDEFINE_VALIDATE`` exists since libvirt 6.10).

libvirt encodes versions as ``major * 1000000 + minor * 1000 + release``
(``virConnectGetLibVersion``, ``virConnectGetVersion`` for the hypervisor):
:func:`from_libvirt_int` turns them into tuples.
"""

from incsnap_driver.virt import errors

LIBVIRT_BACKUP_MIN = (6, 0, 0)
LIBVIRT_INCREMENTAL_MIN = (7, 6, 0)
QEMU_INCREMENTAL_MIN = (6, 1, 0)


def from_libvirt_int(number):
    """``9000000`` -> ``(9, 0, 0)``; ``7002022`` -> ``(7, 2, 22)``."""
    number = int(number)
    if number < 0:
        raise ValueError('negative version number %d' % number)
    return (number // 1000000, number // 1000 % 1000, number % 1000)


def to_text(version):
    """``(7, 6, 0)`` -> ``'7.6.0'``."""
    return '.'.join(str(part) for part in version)


def _pad(version):
    return tuple(version) + (0,) * (3 - len(version))


def check(libvirt_version, qemu_version, incremental,
          has_backup_api=True):
    """Raise when this host cannot take the snapshot the settings ask for.

    ``libvirt_version`` and ``qemu_version`` are tuples (shorter tuples are
    padded with zeros, so ``(6, 1)`` means 6.1.0). ``has_backup_api`` is
    False when the libvirt Python binding has no ``virDomain.backupBegin``.

    * ``incremental`` true: libvirt >= 7.6.0 and QEMU >= 6.1 are needed,
      else :class:`errors.VersionTooOld` naming both versions found and
      both needed (no silent fall back to full snapshots);
    * ``incremental`` false: full snapshots use the backup API without a
      checkpoint; a libvirt older than 6.0.0 or a binding without
      ``backupBegin`` gives :class:`errors.BackupUnsupported`.
    """
    found_libvirt = _pad(libvirt_version)
    found_qemu = _pad(qemu_version)
    if incremental:
        if (found_libvirt < LIBVIRT_INCREMENTAL_MIN
                or found_qemu < QEMU_INCREMENTAL_MIN
                or not has_backup_api):
            raise errors.VersionTooOld(
                found={'libvirt': found_libvirt, 'qemu': found_qemu},
                needed={'libvirt': LIBVIRT_INCREMENTAL_MIN,
                        'qemu': QEMU_INCREMENTAL_MIN},
                message=(
                    'Incremental snapshots of attached volumes need '
                    'libvirt >= %s and QEMU >= %s; this compute host has '
                    'libvirt %s and QEMU %s%s.' % (
                        to_text(LIBVIRT_INCREMENTAL_MIN),
                        to_text(QEMU_INCREMENTAL_MIN),
                        to_text(found_libvirt), to_text(found_qemu),
                        '' if has_backup_api else
                        ' (and its libvirt Python binding has no '
                        'backupBegin)')))
        return
    if found_libvirt < LIBVIRT_BACKUP_MIN or not has_backup_api:
        raise errors.BackupUnsupported(
            'Snapshots of attached volumes use the libvirt backup API '
            '(backupBegin), which needs libvirt >= %s and a libvirt '
            'Python binding that has it; this compute host has libvirt '
            '%s%s.' % (to_text(LIBVIRT_BACKUP_MIN), to_text(found_libvirt),
                       '' if has_backup_api else
                       ' and a binding without backupBegin'))
