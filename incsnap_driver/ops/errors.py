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
"""What an operation raises when it fails.

The message (``str(exc)``) is complete: it names the volume and the
snapshot. The class says which Cinder exception the driver turns it into.
"""

from oslo_concurrency import processutils

from incsnap_driver.qemu import daemon
from incsnap_driver.qemu import qmp


class OperationFailed(Exception):
    """Base class; the message is what Cinder shows."""


class BackendFailed(OperationFailed):
    """Cinder's VolumeBackendAPIException: the files or the tools failed."""


class SnapshotInvalid(OperationFailed):
    """Cinder's InvalidSnapshot: the snapshot cannot serve this request."""


class DriverFailed(OperationFailed):
    """Cinder's VolumeDriverException: this backend cannot do it."""


class ExtendFailed(OperationFailed):
    """Cinder's ExtendVolumeError."""


# What a copy job (qemu-storage-daemon and its QMP, qemu-img, the files on
# the share) raises when it fails.
COPY_FAILURES = (daemon.DaemonError, qmp.QMPError, qmp.QMPConnectionError,
                 processutils.ProcessExecutionError, OSError)
