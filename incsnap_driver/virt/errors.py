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
"""Errors of the libvirt layer.

Plain Python exceptions: this package knows nothing of Cinder; the driver
maps them to Cinder's exceptions. Every message is complete on its own
(it names the domain, disk, checkpoint or versions involved) and never
contains a libvirt URI with credentials.
"""


class VirtError(Exception):
    """Base class of every error raised by ``incsnap_driver.virt``.

    Keyword arguments become attributes: the facts a caller branches on
    (each class names its own).
    """

    def __init__(self, message, **facts):
        super().__init__(message)
        vars(self).update(facts)


class ConnectionFailed(VirtError):
    """libvirt could not be reached; the message holds the redacted URI."""


class VersionTooOld(VirtError):
    """Incremental snapshots are on, but libvirt or QEMU is too old.

    ``found`` and ``needed`` map ``'libvirt'`` and ``'qemu'`` to version
    tuples; the message names all four.
    """


class BackupUnsupported(VirtError):
    """The host's libvirt (or QEMU) has no backup API (``backupBegin``)."""


class DiskNotFound(VirtError):
    """The running domain has no disk whose source file is the volume."""


class CheckpointUnusable(VirtError):
    """The volume's bitmap for a checkpoint cannot be used.

    ``reason`` is ``'bitmap_missing'`` (the qcow2 image has no bitmap of
    that name, e.g. QEMU was killed before it stored a bitmap created in
    that run) or ``'bitmap_inconsistent'`` (the bitmap is there but QEMU
    flags it inconsistent: it was ``in-use`` when the QEMU that had the
    image open died). Either way the next snapshot must be full; the
    driver records ``reason``.
    """


class CheckpointError(VirtError):
    """libvirt refused a checkpoint operation for another reason."""


class DomainBusy(VirtError):
    """Another job (backup, migration, ...) runs on the domain."""


class QuiesceFailed(VirtError):
    """``quiesce='require'`` and the guest file systems were not frozen."""


class BackupFailed(VirtError):
    """The backup job could not start or did not complete.

    The partial target and the job's new checkpoint have been removed
    (as far as possible; failures of that clean-up are logged).
    """


class BackupTimeout(BackupFailed):
    """The backup job ran longer than its timeout and was aborted."""


class TargetLocked(VirtError):
    """A backup target is still locked by QEMU after the wait."""
