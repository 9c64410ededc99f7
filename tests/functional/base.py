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
"""Functional test base: the real driver on a real Cinder configuration.

What is real here: Cinder's configuration objects, its database layer (a
sqlite file migrated with Cinder's own migrations), its Volume and Snapshot
objects, its coordination locks, its root helper (sudo + cinder-rootwrap
with Cinder's filters and ours), os-brick's share handling, qemu-img and
qemu-storage-daemon.

What stands in: the NFS mount. These machines have no NFS client in the
kernel, so each test bind-mounts a local folder at the mount point
os-brick computes for the share (``<base>/<md5 of the share>``); os-brick
finds it in /proc/mounts and uses it as it would a mounted NFS export
(DESIGN.md §3). Needs root.
"""

import hashlib
import os
import shutil
import tempfile
import uuid

import fixtures
from oslo_config import cfg
import testtools

from tests.common import commands
from tests.common import guest_writes
from tests.common import images
from tests.common import processes

CONF = cfg.CONF
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GiB = 1024 ** 3
MiB = 1024 ** 2

_STATE = {}


# Run a command (argument list), return stdout as text.
sh = commands.run


def _cinder_filters_dir():
    import cinder
    candidates = [
        os.path.join(os.path.dirname(os.path.dirname(cinder.__file__)),
                     '..', '..', '..', 'etc', 'cinder', 'rootwrap.d'),
        os.path.join(os.sys.prefix, 'etc', 'cinder', 'rootwrap.d'),
        '/etc/cinder/rootwrap.d',
    ]
    for path in candidates:
        path = os.path.realpath(path)
        if os.path.exists(os.path.join(path, 'volume.filters')):
            return path
    raise RuntimeError('Cinder volume.filters not found')


def setup_process():
    """Once per test process: config, database, locks, root helper."""
    if _STATE:
        return _STATE
    root = tempfile.mkdtemp(prefix='incsnap-func-')
    _STATE['root'] = root
    for sub in ('state', 'locks', 'mnt', 'exports', 'refs', 'conf'):
        os.makedirs(os.path.join(root, sub))

    rootwrap_conf = os.path.join(root, 'conf', 'rootwrap.conf')
    with open(rootwrap_conf, 'w') as f:
        f.write('[DEFAULT]\nfilters_path=%s,%s\n'
                'exec_dirs=/sbin,/usr/sbin,/bin,/usr/bin,/usr/local/bin,'
                '/usr/local/sbin\nuse_syslog=False\n'
                % (_cinder_filters_dir(),
                   os.path.join(REPO, 'etc', 'incsnap', 'rootwrap.d')))

    from cinder import objects
    objects.register_all()
    from cinder.common import config  # noqa: F401  registers options
    from cinder import coordination
    from cinder.db import migration
    from cinder.volume import configuration  # noqa: F401

    CONF([], project='cinder', default_config_files=[])
    CONF.set_override('state_path', os.path.join(root, 'state'))
    CONF.set_override('lock_path', os.path.join(root, 'locks'),
                      group='oslo_concurrency')
    CONF.set_override('connection',
                      'sqlite:///%s' % os.path.join(root, 'cinder.sqlite'),
                      group='database')
    CONF.set_override('rootwrap_config', rootwrap_conf)
    CONF.set_override('backend_url',
                      'file://%s' % os.path.join(root, 'locks'),
                      group='coordination')
    migration.db_sync()
    coordination.COORDINATOR.start()
    return _STATE


class FunctionalTestCase(testtools.TestCase):
    """A fresh share and a driver instance per test."""

    backend_options = {}
    availability_zone = 'nova'
    export_size = None
    # Shares besides the first (``self.more_shares``: (share, export)).
    extra_shares = 0

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(
            int(os.environ.get('OS_TEST_TIMEOUT', 600)), gentle=True))
        state = setup_process()
        from cinder import context
        self.ctx = context.get_admin_context()
        self.root = state['root']
        name = 'incsnap-%s' % uuid.uuid4().hex[:12]
        self.backend = name
        self.export = os.path.join(self.root, 'exports', name)
        os.makedirs(self.export)
        self.share = '127.0.0.1:/srv/%s' % name
        self.mount_base = os.path.join(self.root, 'mnt')
        self.mount_point = os.path.join(
            self.mount_base, hashlib.md5(self.share.encode()).hexdigest())
        os.makedirs(self.mount_point)
        if self.export_size:
            # A small file system as the export: the share can run full.
            sh('mount', '-t', 'tmpfs', '-o', 'size=%d' % self.export_size,
               'incsnap-test', self.export)
        sh('mount', '--bind', self.export, self.mount_point)
        self.addCleanup(self._unmount)
        self.more_shares = [self._add_share('%s-%d' % (name, n))
                            for n in range(1, self.extra_shares + 1)]
        self.ref_dir = tempfile.mkdtemp(dir=os.path.join(self.root, 'refs'))
        self.addCleanup(shutil.rmtree, self.ref_dir, True)
        self.driver = self.make_driver()

    def _add_share(self, name):
        """Another share (bind-mounted export) of the test's backend."""
        export = os.path.join(self.root, 'exports', name)
        os.makedirs(export)
        share = '127.0.0.1:/srv/%s' % name
        mount_point = os.path.join(
            self.mount_base, hashlib.md5(share.encode()).hexdigest())
        os.makedirs(mount_point)
        sh('mount', '--bind', export, mount_point)

        def unmount():
            processes.kill(processes.pids_with_argument(mount_point))
            sh('umount', mount_point, check=False)
            shutil.rmtree(export, ignore_errors=True)
            os.rmdir(mount_point)
        self.addCleanup(unmount)
        return share, export

    def _unmount(self):
        # A test that killed a process on purpose may leave a QEMU tool
        # running on the share: end it, or the share stays busy.
        processes.kill(processes.pids_with_argument(self.mount_point))
        sh('umount', self.mount_point, check=False)
        if self.export_size:
            sh('umount', self.export, check=False)
        shutil.rmtree(self.export, ignore_errors=True)
        try:
            os.rmdir(self.mount_point)
        except OSError:
            pass

    def backend_config(self, **overrides):
        shares = os.path.join(self.root, 'conf', self.backend + '.shares')
        with open(shares, 'w') as f:
            for share in [self.share] + [s for s, _e in self.more_shares]:
                f.write(share + '\n')
        values = {
            'nfs_shares_config': shares,
            'nfs_mount_point_base': self.mount_base,
            'nas_secure_file_operations': 'true',
            'nas_secure_file_permissions': 'true',
            'kvm_incremental_snapshot': True,
            'snapshot_delta_max': 3,
            'volume_backend_name': self.backend,
        }
        values.update(self.backend_options)
        values.update(overrides)
        return values

    def make_driver(self, do_setup=True, host=None, **overrides):
        """A driver on the test's share; ``overrides``: backend options.

        ``host``: Cinder's ``host@backend`` of its service (the marks on
        the QEMU tools it starts); by default its configuration group's.
        A restarted service keeps its host: ``host=self.driver.host``.
        """
        from cinder.volume import configuration
        from cinder.volume import driver as base_driver
        from cinder.volume.drivers import nfs
        from cinder.volume.drivers import remotefs

        from incsnap_driver import driver as driver_mod
        from incsnap_driver import options
        # A driver with other options gets a configuration group of its own
        # (on the same share): groups are read live, and the test's main
        # driver must keep its own values.
        group = self.backend
        if overrides:
            self._groups = getattr(self, '_groups', 0) + 1
            group = '%s-%d' % (self.backend, self._groups)
        CONF.register_opts(nfs.nfs_opts + remotefs.nas_opts +
                           options.incsnap_opts + base_driver.volume_opts,
                           group=group)
        for key, value in self.backend_config(**overrides).items():
            CONF.set_override(key, value, group=group)
        conf = configuration.Configuration(base_driver.volume_opts,
                                           config_group=group)
        drv = driver_mod.IncrementalSnapshotNfsDriver(
            configuration=conf, host=host or 'incsnap-test@%s' % group)
        if do_setup:
            drv.do_setup(self.ctx)
            drv.check_for_setup_error()
        return drv

    # -- Cinder objects ----------------------------------------------------

    def create_volume(self, size=1, az=None, driver=None, pool=None):
        """A volume as the volume manager creates it.

        ``pool``: the pool the scheduler chose (``host#pool``); none by
        default, as volumes created before the shares were pools.
        """
        from cinder import objects
        from cinder.volume import volume_types
        vtype = volume_types.get_default_volume_type(self.ctx)
        host = 'incsnap-test@%s' % self.backend
        if pool is not None:
            host += '#' + pool
        volume = objects.Volume(
            context=self.ctx, size=size, status='creating',
            attach_status='detached', host=host,
            availability_zone=az or self.availability_zone,
            volume_type_id=vtype['id'], project_id='p', user_id='u')
        volume.create()
        update = (driver or self.driver).create_volume(volume)
        volume.update(update)
        volume.status = 'available'
        volume.save()
        self.addCleanup(self._delete_volume_quietly, volume)
        return volume

    def volume_record(self, like, **fields):
        """A new volume's record, as the API creates it (``creating``).

        On ``like``'s host, of its type; ``fields`` added (snapshot_id).
        """
        from cinder import objects
        volume = objects.Volume(
            context=self.ctx, size=1, status='creating', host=like.host,
            availability_zone='nova', volume_type_id=like.volume_type_id,
            project_id='p', user_id='u', **fields)
        volume.create()
        return volume

    def let_qemu_reach_the_export(self):
        """libvirt's QEMU runs as libvirt-qemu: it must reach the export."""
        for path in (self.root, os.path.join(self.root, 'exports'),
                     self.export):
            os.chmod(path, 0o755)

    def _delete_volume_quietly(self, volume):
        try:
            self.driver.delete_volume(volume)
        except Exception:
            pass

    def new_snapshot(self, volume, metadata=None):
        """A snapshot record in Cinder's database, as the API creates it."""
        from cinder import objects
        snap = objects.Snapshot(
            context=self.ctx, volume_id=volume.id, status='creating',
            progress='0%', volume_size=volume.size,
            volume_type_id=volume.volume_type_id, project_id='p',
            user_id='u', metadata=metadata or {})
        snap.create()
        return snap

    def create_snapshot(self, volume, metadata=None, driver=None):
        """Take a snapshot as Cinder's volume manager does."""
        from cinder import objects
        snap = self.new_snapshot(volume, metadata)
        update = (driver or self.driver).create_snapshot(snap)
        if update:
            snap.update(update)
        snap.status = 'available'
        snap.save()
        return objects.Snapshot.get_by_id(self.ctx, snap.id)

    def delete_snapshot(self, snap, driver=None):
        (driver or self.driver).delete_snapshot(snap)
        snap.destroy()

    # -- files and data ----------------------------------------------------

    def volume_path(self, volume):
        return self.driver.local_path(volume)

    def snap_dir(self, volume):
        return self.volume_path(volume) + '.incsnap'

    def snap_path(self, volume, snap):
        return os.path.join(self.snap_dir(volume),
                            'snapshot-%s.qcow2' % snap.id)

    def write(self, volume, offset, length, pattern):
        guest_writes.offline_write(self.volume_path(volume), offset, length,
                                   pattern)

    def write_zeroes(self, volume, offset, length):
        guest_writes.offline_write(self.volume_path(volume), offset, length,
                                   None)

    def reference(self, volume, label):
        """A copy of the volume's content now, to compare with later."""
        return images.flat_copy(
            self.volume_path(volume),
            os.path.join(self.ref_dir, '%s-%s.qcow2' % (volume.id, label)))

    def assertSameContent(self, path1, path2):
        images.assert_same_content(path1, path2)

    def assertDifferentContent(self, path1, path2):
        images.assert_different_content(path1, path2)

    def image_info(self, path):
        return images.info(path)

    def bitmap_names(self, volume):
        return images.bitmap_names(self.volume_path(volume))

    def allocated(self, path):
        return images.allocated_bytes(path)

    def files_in(self, directory):
        if not os.path.isdir(directory):
            return []
        return sorted(os.listdir(directory))

    def share_files(self):
        """Every file on the share, relative to its root."""
        found = []
        for dirpath, _dirs, files in os.walk(self.export):
            for name in files:
                found.append(os.path.relpath(os.path.join(dirpath, name),
                                             self.export))
        return sorted(found)
