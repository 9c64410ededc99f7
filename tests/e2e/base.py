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
says it is up.  Root is needed (the stack bind-mounts the share).

Environment:
    INCSNAP_AIO_DIR        the stack's state folder (default <repo>/.aio)
    INCSNAP_E2E_TIMEOUT    seconds a volume/snapshot may take to settle
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import testtools

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AIO_DIR = os.environ.get('INCSNAP_AIO_DIR', os.path.join(REPO, '.aio'))
AIO = os.path.join(REPO, 'tools', 'aio')
EXPORT = os.path.join(AIO_DIR, 'export')
OPENSTACK = os.path.join(AIO_DIR, 'venv', 'bin', 'openstack')
STACK_PYTHON = os.path.join(AIO_DIR, 'venv', 'bin', 'python')
ATTACH = os.path.join(REPO, 'tools', 'aio-attach.py')
TIMEOUT = float(os.environ.get('INCSNAP_E2E_TIMEOUT', '180'))
MiB = 1024 ** 2
GiB = 1024 ** 3
# Snapshots of in-use volumes: python-openstackclient 10.5 passes --force
# to openstacksdk as "force", which its Snapshot resource calls "is_forced"
# and silently drops, so `--force` at microversions < 3.66 still gets
# "status must be available".  From 3.66 Cinder takes snapshots of in-use
# volumes without the flag (what Nova's users get today).
IN_USE_MICROVERSION = '3.66'

# Statuses after which a resource never becomes usable by itself.
FAILED = {'error', 'error_deleting', 'error_extending', 'error_restoring',
          'error_managing', 'error_backing-up'}

_stack_checked = False


class CommandFailed(Exception):
    def __init__(self, cmd, proc):
        self.proc = proc
        super().__init__('%s exited %d\nstdout: %s\nstderr: %s' % (
            ' '.join(cmd), proc.returncode, proc.stdout, proc.stderr))


def ensure_stack():
    """Bring the stack up, unless tools/aio status says it is up.

    A stack named by INCSNAP_AIO_DIR is someone else's (shared): it is used
    as it runs and never brought "up" from this checkout, which would
    reinstall this checkout's driver into its venv and rewrite its
    configuration.
    """
    global _stack_checked
    if _stack_checked:
        return
    if 'INCSNAP_AIO_DIR' in os.environ:
        if not os.path.exists(os.path.join(AIO_DIR, 'clouds.yaml')):
            raise RuntimeError('no stack in %s (INCSNAP_AIO_DIR)' % AIO_DIR)
        _stack_checked = True
        return
    env = dict(os.environ, AIO_DIR=AIO_DIR)
    status = subprocess.run([AIO, 'status'], env=env, capture_output=True,
                            text=True)
    if status.returncode != 0:
        up = subprocess.run([AIO, 'up'], env=env, capture_output=True,
                            text=True)
        if up.returncode != 0:
            raise RuntimeError('tools/aio up failed:\n%s\n%s'
                               % (up.stdout[-4000:], up.stderr[-4000:]))
    _stack_checked = True


def cli_env():
    """The admin cloud from .aio/clouds.yaml, and nothing else of OS_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(OS_CLIENT_CONFIG_FILE=os.path.join(AIO_DIR, 'clouds.yaml'),
               OS_CLOUD='incsnap-aio')
    env['PATH'] = os.path.join(AIO_DIR, 'venv', 'bin') + ':' + env['PATH']
    return env


class E2ETestCase(testtools.TestCase):
    """Base class: the stack, the CLI and the export."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ensure_stack()

    # --- the CLI ---------------------------------------------------------

    def openstack(self, *args, parse=True):
        """Run ``openstack ARGS`` and return its JSON output (or text)."""
        cmd = [OPENSTACK] + list(args)
        if parse:
            cmd += ['-f', 'json']
        proc = subprocess.run(cmd, env=cli_env(), capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            raise CommandFailed(cmd, proc)
        return json.loads(proc.stdout) if parse else proc.stdout

    def unique_name(self, kind):
        return 'e2e-%s-%s' % (kind, uuid.uuid4().hex[:8])

    def wait_status(self, kind, ident, want):
        """Poll ``openstack <kind> show`` until status is ``want``.

        Returns every status seen, in order, so that tests can assert the
        path too.  Fails at once on an error status.
        """
        seen = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            status = self.openstack(*kind.split(), 'show', ident)['status']
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == want:
                return seen
            if status in FAILED:
                self.fail('%s %s went to %s (statuses seen: %s)'
                          % (kind, ident, status, seen))
            if time.monotonic() > deadline:
                self.fail('%s %s not %s after %ds (statuses seen: %s)'
                          % (kind, ident, want, TIMEOUT, seen))
            time.sleep(1)

    def wait_gone(self, kind, ident):
        """Poll until ``show`` says the resource does not exist."""
        seen = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                status = self.openstack(*kind.split(), 'show',
                                        ident)['status']
            except CommandFailed as exc:
                if 'No ' in exc.proc.stderr or 'not found' in \
                        exc.proc.stderr.lower():
                    return seen
                raise
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in FAILED:
                self.fail('%s %s went to %s while deleted (statuses seen: '
                          '%s)' % (kind, ident, status, seen))
            if time.monotonic() > deadline:
                self.fail('%s %s still there after %ds (statuses seen: %s)'
                          % (kind, ident, TIMEOUT, seen))
            time.sleep(1)

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
        """Best effort removal of what a failed test left behind.

        Waits until it is gone (or not deletable), so that a volume's
        snapshots are gone before the volume's own cleanup runs.
        """
        try:
            self.openstack(*kind.split(), 'delete', ident, parse=False)
        except CommandFailed:
            return  # already gone (the test deleted it) or undeletable
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                status = self.openstack(*kind.split(), 'show',
                                        ident)['status']
            except CommandFailed:
                return
            if status in FAILED:
                return
            time.sleep(1)

    # --- the export behind the share --------------------------------------

    def volume_path(self, volume_id):
        return os.path.join(EXPORT, 'volume-%s' % volume_id)

    def files_named(self, fragment):
        """Files under the export whose name contains ``fragment``."""
        found = []
        for top, _dirs, files in os.walk(EXPORT):
            found += [os.path.join(top, f) for f in files if fragment in f]
        return sorted(found)

    def qemu_img_info(self, path):
        out = subprocess.run(
            ['qemu-img', 'info', '--output=json', '--force-share', path],
            capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    # --- guest writes and their model ---------------------------------------

    def new_model(self, volume_id, size_gb=1):
        """A sparse raw file standing for what the guest wrote so far."""
        if not hasattr(self, '_model_dir'):
            self._model_dir = tempfile.mkdtemp(prefix='incsnap-e2e-')
            self.addCleanup(shutil.rmtree, self._model_dir, True)
        path = os.path.join(self._model_dir, volume_id + '.raw')
        with open(path, 'wb') as f:
            f.truncate(size_gb * GiB)
        return path

    def model_write(self, model, offset, length, byte):
        with open(model, 'r+b') as f:
            f.seek(offset)
            f.write(bytes([byte]) * length)

    def model_copy(self, model, label):
        copy = '%s.%s' % (model, label)
        shutil.copyfile(model, copy)
        return copy

    def offline_write(self, volume_id, offset, length, byte, model=None):
        """Write into a detached volume's file (stands in for a VM)."""
        run('qemu-io', '-f', 'qcow2', '-c',
            'write -q -P 0x%02x %d %d' % (byte, offset, length),
            self.volume_path(volume_id))
        if model:
            self.model_write(model, offset, length, byte)

    def assertContent(self, path, model):
        """The qcow2 file (and its backing chain) reads exactly as model."""
        proc = subprocess.run(
            ['qemu-img', 'compare', '-U', '-f', 'qcow2', '-F', 'raw',
             path, model], capture_output=True, text=True)
        self.assertEqual(0, proc.returncode, 'content of %s differs from '
                         '%s: %s%s' % (path, model, proc.stdout, proc.stderr))

    # --- snapshots on the share ---------------------------------------------

    def snap_dir(self, volume_id):
        return self.volume_path(volume_id) + '.incsnap'

    def snap_file(self, volume_id, snap_id):
        return os.path.join(self.snap_dir(volume_id),
                            'snapshot-%s.qcow2' % snap_id)

    def snapshot_props(self, snap_id):
        props = self.openstack('volume', 'snapshot', 'show',
                               snap_id)['properties']
        if isinstance(props, str):  # older clients: "k='v', k2='v2'"
            props = dict(kv.split('=', 1) for kv in props.split(', ')
                         if kv)
            props = {k: v.strip("'") for k, v in props.items()}
        return props

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

    # --- attach like Nova ---------------------------------------------------

    def require_libvirt_access(self):
        """Skip when the stack's cinder-volume cannot reach libvirt.

        A stack started before tools/aio relayed libvirtd's socket to user
        cinder (incsnap_libvirt_uri) fails every snapshot of a running VM
        with "Unable to get system bus connection" (polkit, no D-Bus):
        `tools/aio up` applies it (and restarts cinder-volume).
        """
        with open(os.path.join(AIO_DIR, 'etc', 'cinder', 'cinder.conf')) as f:
            if 'incsnap_libvirt_uri' not in f.read():
                self.skipTest('stack in %s predates the libvirt relay for '
                              'user cinder: run tools/aio up' % AIO_DIR)

    def attach(self, volume_id, instance_uuid):
        """Attachment create (3.54, with a connector) + complete (3.44).

        Returns (attachment id, connection info); the volume is in-use.
        """
        out = run(STACK_PYTHON, ATTACH, 'attach', volume_id, instance_uuid,
                  env=cli_env())
        att = json.loads(out)
        self.addCleanup(self._detach_quietly, att['attachment_id'])
        self.wait_status('volume', volume_id, 'in-use')
        return att['attachment_id'], att['connection_info']

    def detach(self, volume_id, attachment_id):
        run(STACK_PYTHON, ATTACH, 'detach', attachment_id, '--secrets',
            os.path.join(AIO_DIR, 'secrets'), env=cli_env())
        self.wait_status('volume', volume_id, 'available')

    def _detach_quietly(self, attachment_id):
        subprocess.run([STACK_PYTHON, ATTACH, 'detach', attachment_id,
                        '--secrets', os.path.join(AIO_DIR, 'secrets')],
                       env=cli_env(), capture_output=True)


def run(*cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise CommandFailed(cmd, proc)
    return proc.stdout
