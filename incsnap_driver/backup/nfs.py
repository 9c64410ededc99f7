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
"""Cinder's NFS backup driver with the differential read.

Enabled with backup_driver =
incsnap_driver.backup.nfs.IncsnapNFSBackupDriver; every option of
Cinder's NFS backup driver applies unchanged.
"""

from cinder.backup.drivers import nfs
from cinder import interface

from incsnap_driver.backup import differential


@interface.backupdriver
class IncsnapNFSBackupDriver(differential.DifferentialBackupMixin,
                             nfs.NFSBackupDriver):
    """NFSBackupDriver whose incremental backups read only dirty extents.

    See :mod:`incsnap_driver.backup.differential`.
    """
