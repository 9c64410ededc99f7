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
"""Upstream Tempest volume test classes, runnable with Cinder alone.

Some of Tempest 47's volume API classes hold tests that need nothing but
Cinder, yet cannot run on a cloud without Neutron or Glance:

* ``VolumesSnapshotTestJSON`` (snapshot create, get, list, update,
  delete, volumes from snapshots) and both ``VolumesActionsTest`` (user:
  bootable, reserve, read-only; admin: reset status, force delete) set
  ``create_default_network = True`` for the whole class, because one or
  two of their tests boot a server: without Neutron the class skips.
* ``VolumesBackupsTest`` (backup create, get, list, restore, delete) sets
  ``create_default_network = True`` too, for its attached-volume and
  incremental tests (they boot servers).
* ``VolumesNegativeTest`` and ``VolumesGetTest`` read ``images_client`` in
  ``setup_clients``, which Tempest defines only when Glance is available:
  without Glance the class errors in ``setUpClass``.

The subclasses below run those tests unchanged (same test methods, same
idempotent ids) with Cinder alone; the tests that need a server or an
image still skip themselves (``@utils.services('compute')`` or
``('image')``).  Each subclass skips itself on a cloud where the upstream
class runs.
"""

from tempest.api.volume.admin import test_volumes_actions as admin_actions
from tempest.api.volume import test_volumes_actions
from tempest.api.volume import test_volumes_backup
from tempest.api.volume import test_volumes_get
from tempest.api.volume import test_volumes_negative
from tempest.api.volume import test_volumes_snapshots
from tempest import config

CONF = config.CONF


class WithoutNeutronMixin(object):
    """No default network: the tests that need one need a server too."""

    create_default_network = False

    @classmethod
    def skip_checks(cls):
        super(WithoutNeutronMixin, cls).skip_checks()
        if CONF.service_available.neutron:
            raise cls.skipException('Neutron is available: the upstream '
                                    'class runs these tests')


class WithoutGlanceMixin(object):
    """images_client is None when Glance is not there."""

    # Read by the upstream setup_clients; tempest sets it only with Glance.
    images_client = None

    @classmethod
    def skip_checks(cls):
        super(WithoutGlanceMixin, cls).skip_checks()
        if CONF.service_available.glance:
            raise cls.skipException('Glance is available: the upstream '
                                    'class runs these tests')


class VolumesSnapshotTest(WithoutNeutronMixin,
                          test_volumes_snapshots.VolumesSnapshotTestJSON):
    pass


class VolumesActionsTest(WithoutNeutronMixin, WithoutGlanceMixin,
                         test_volumes_actions.VolumesActionsTest):
    pass


class VolumesActionsAdminTest(WithoutNeutronMixin,
                              admin_actions.VolumesActionsTest):
    pass


class VolumesNegativeTest(WithoutGlanceMixin,
                          test_volumes_negative.VolumesNegativeTest):
    pass


class VolumesGetTest(WithoutGlanceMixin, test_volumes_get.VolumesGetTest):
    pass


class VolumesBackupsTest(WithoutNeutronMixin,
                         test_volumes_backup.VolumesBackupsTest):
    pass
