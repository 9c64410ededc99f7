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
"""End-to-end tests against the all-in-one stack of ``tools/aio``.

They drive Cinder the way its users do: the ``openstack`` CLI (JSON
output), then look at the files on the export behind the share.  The stack
is brought up once per test process, or reused when ``tools/aio status``
says it is up.  Root is needed (the stack bind-mounts the share).  The
stack's client side (its files, the CLI, waiting for statuses, attaching)
is :mod:`tests.common.stack`; guest writes and their model are
:mod:`tests.common.guest_writes`.

Environment:
    INCSNAP_AIO_DIR        the stack's state folder (default <repo>/.aio)
    AIO_HOST               the loopback address of the stack brought up
                           from this checkout (tools/aio's knob; default:
                           the one the folder was made with, else
                           127.0.0.1); a stack in INCSNAP_AIO_DIR brings
                           its address in its own files
    INCSNAP_E2E_TIMEOUT    seconds a volume/snapshot may take to settle
"""

import os
import shutil
import tempfile
import time
import uuid

import testtools

from tests.common import compute
from tests.common import guest_writes
from tests.common import images
from tests.common import stack

STACK = stack.Stack.from_environment()
TIMEOUT = stack.TIMEOUT
MiB = 1024 ** 2
GiB = 1024 ** 3
# Snapshots of in-use volumes: python-openstackclient 10.5 passes --force
# to openstacksdk as "force", which its Snapshot resource calls "is_forced"
# and silently drops, so `--force` at microversions < 3.66 still gets
# "status must be available".  From 3.66 Cinder takes snapshots of in-use
# volumes without the flag (what Nova's users get today).
IN_USE_MICROVERSION = '3.66'

CommandFailed = stack.CommandFailed


class E2ETestCase(testtools.TestCase):
    """Base class: the stack, the CLI and the export."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        STACK.ensure_up()

    # --- the CLI ----------------------------------------------------------

    def openstack(self, *args, parse=True):
        """Run ``openstack ARGS`` and return its JSON output (or text)."""
        return STACK.openstack(*args, parse=parse)

    def unique_name(self, kind):
        return 'e2e-%s-%s' % (kind, uuid.uuid4().hex[:8])

    def wait_status(self, kind, ident, want):
        """Poll until status is ``want``; every status seen, in order.

        Fails at once on an error status.
        """
        return STACK.wait_status(kind, ident, want)

    def wait_gone(self, kind, ident):
        """Poll until ``show`` says the resource does not exist."""
        return STACK.wait_gone(kind, ident)

    def create_volume(self, size_gb=1, **opts):
        args = ['volume', 'create', '--size', str(size_gb)]
        for key, value in opts.items():
            args += ['--' + key.replace('_', '-'), value]
        vol = self.openstack(*args, self.unique_name('vol'))
        self.addCleanup(self._cleanup, 'volume', vol['id'])
        return vol

    def create_snapshot(self, volume_id, *extra, microversion=None):
        api = ['--os-volume-api-version', microversion] if microversion \
            else []
        snap = self.openstack(*api, 'volume', 'snapshot', 'create',
                              '--volume', volume_id, *extra,
                              self.unique_name('snap'))
        self.addCleanup(self._cleanup, 'volume snapshot', snap['id'])
        return snap

    def _cleanup(self, kind, ident):
        """Best effort removal of what a failed test left behind."""
        STACK.delete_quietly(kind, ident)

    # --- the export behind the share --------------------------------------

    def volume_path(self, volume_id):
        return STACK.volume_path(volume_id)

    def files_named(self, fragment):
        """Files under the export whose name contains ``fragment``."""
        return STACK.files_named(fragment)

    def qemu_img_info(self, path):
        return images.info(path)

    # --- guest writes and their model -------------------------------------

    def new_model(self, volume_id, size_gb=1):
        """A sparse raw file standing for what the guest wrote so far."""
        if not hasattr(self, '_model_dir'):
            self._model_dir = tempfile.mkdtemp(prefix='incsnap-e2e-')
            self.addCleanup(shutil.rmtree, self._model_dir, True)
        return guest_writes.Model(
            os.path.join(self._model_dir, volume_id + '.raw'), size_gb * GiB)

    def model_copy(self, model, label):
        return model.copy('%s.%s' % (model.path, label))

    def offline_write(self, volume_id, offset, length, byte, model=None):
        """Write into a detached volume's file (stands in for a VM)."""
        guest_writes.offline_write(self.volume_path(volume_id), offset,
                                   length, byte)
        if model:
            model.write(offset, length, byte)

    def assertContent(self, path, model):
        """The qcow2 file (and its backing chain) reads exactly as model."""
        images.assert_same_content(path, model, 'qcow2', 'raw')

    # --- snapshots on the share -------------------------------------------

    def snap_dir(self, volume_id):
        return STACK.snap_dir(volume_id)

    def snap_file(self, volume_id, snap_id):
        return STACK.snap_file(volume_id, snap_id)

    def snapshot_props(self, snap_id):
        return stack.parse_properties(self.openstack(
            'volume', 'snapshot', 'show', snap_id)['properties'])

    def snapshot_ok(self, volume_id, *extra, microversion=None):
        """Create a snapshot and wait until it is available."""
        snap = self.create_snapshot(volume_id, *extra,
                                    microversion=microversion)
        seen = self.wait_status('volume snapshot', snap['id'], 'available')
        self.assertNotIn('error', seen)
        return snap['id']

    def delete_snapshot(self, snap_id):
        self.openstack('volume', 'snapshot', 'delete', snap_id, parse=False)
        seen = self.wait_gone('volume snapshot', snap_id)
        self.assertNotIn('error_deleting', seen)

    def allocated(self, path):
        return os.stat(path).st_blocks * 512

    def leftovers(self, volume_id):
        """Partial or temporary files of the volume's operations."""
        names = [os.path.basename(p) for p in self.files_named(volume_id)]
        if os.path.isdir(self.snap_dir(volume_id)):
            names += os.listdir(self.snap_dir(volume_id))
        return sorted(n for n in names
                      if n.endswith(('.part', '.tmp')) or '.undo.' in n)

    # --- attach like Nova -------------------------------------------------

    def require_libvirt_access(self):
        """Skip when the stack's cinder-volume cannot reach libvirt.

        A stack started before tools/aio relayed libvirtd's socket to user
        cinder (incsnap_libvirt_uri) fails every snapshot of a running VM
        with "Unable to get system bus connection" (polkit, no D-Bus):
        `tools/aio up` applies it (and restarts cinder-volume).
        """
        if 'incsnap_libvirt_uri' not in STACK.cinder_conf_text():
            self.skipTest('stack in %s predates the libvirt relay for '
                          'user cinder: run tools/aio up' % STACK.aio_dir)

    def attach(self, volume_id, instance_uuid, host=None):
        """Attach like Nova; returns (attachment id, connection info).

        ``host``: the compute host (the connector's); default compute1
        when the stack reaches the compute hosts, else this machine. The
        volume is then in-use.
        """
        if host is None and STACK.compute_hosts_dir():
            host = 'compute1'
        attachment_id, connection_info = STACK.attach(volume_id,
                                                      instance_uuid, host)
        self.addCleanup(STACK.detach, attachment_id, check=False)
        self.wait_status('volume', volume_id, 'in-use')
        return attachment_id, connection_info

    def detach(self, volume_id, attachment_id):
        STACK.detach(attachment_id)
        self.wait_status('volume', volume_id, 'available')

    # --- the compute hosts (tools/compute-hosts) --------------------------

    def compute_hosts(self):
        """The compute hosts cinder-volume reaches, or None.

        None when the stack talks to the machine's libvirtd
        (``tools/aio.d/compute-hosts.sh`` is off). Otherwise they are
        brought up if need be, and the stack's share is mounted for them
        (:func:`tests.common.compute.mount_share`).
        """
        want = STACK.compute_hosts_dir()
        if want is None:
            return None
        if not hasattr(self, '_hosts'):
            hosts = compute.ensure_up()
            here = os.path.dirname(hosts.shares_dir)
            if os.path.realpath(here) != os.path.realpath(want):
                self.fail('the stack in %s reaches the compute hosts of %s, '
                          'these tests start those of %s '
                          '(INCSNAP_COMPUTE_DIR)' % (STACK.aio_dir, want,
                                                     here))
            # Every share: a volume is on either.
            self._compute_dirs = [
                (export, compute.mount_share(hosts, share, export,
                                             self.addCleanup))
                for share, export in STACK.shares()]
            self._hosts = hosts
        return self._hosts

    def compute_path(self, name):
        """Where the compute hosts see the share's file ``name``.

        ``name``: ``volume-<id>``, a connection info's ``name``; on the
        share whose export holds it.
        """
        self.compute_hosts()
        for export, seen_at in self._compute_dirs:
            if os.path.lexists(os.path.join(export, name)):
                return os.path.join(seen_at, name)
        return os.path.join(self._compute_dirs[0][1], name)


MIGSTAT = 'os-vol-mig-status-attr:migstat'


class PoolsMixin:
    """Pools and ``openstack volume migrate`` for E2ETestCase tests."""

    def host_of(self, vid):
        return self.openstack('volume', 'show', vid)['os-vol-host-attr:host']

    def other_pool(self, host):
        """The host (``node@backend#pool``) of the backend's other pool."""
        node_backend, _pool = host.split('#', 1)
        pools = [p['Name'] for p in self.openstack(
            'volume', 'backend', 'pool', 'list')]
        others = [p for p in pools
                  if p.startswith(node_backend + '#') and p != host]
        self.assertEqual(1, len(others), pools)
        return others[0]

    def wait_migrated(self, vid, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.openstack('volume', 'show', vid)
            if shown[MIGSTAT] in ('success', 'error'):
                return shown
            time.sleep(1)
        self.fail('volume %s: migration did not end in %s s'
                  % (vid, timeout))
