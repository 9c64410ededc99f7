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
"""The operations' failures, raised as Cinder's exceptions."""

import functools

from cinder import exception

from incsnap_driver.ops import errors

# What Cinder sees of each failure of an operation (its message unchanged).
_TO_CINDER = {
    errors.BackendFailed:
        lambda msg: exception.VolumeBackendAPIException(data=msg),
    errors.SnapshotInvalid: lambda msg: exception.InvalidSnapshot(reason=msg),
    errors.DriverFailed:
        lambda msg: exception.VolumeDriverException(message=msg),
    errors.ExtendFailed: lambda msg: exception.ExtendVolumeError(reason=msg),
}


def as_cinder_exceptions(method):
    """Raise the operations' failures as Cinder's exceptions."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except errors.OperationFailed as exc:
            raise _TO_CINDER[type(exc)](exc.args[0]) from exc
    return wrapper
