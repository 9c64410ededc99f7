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
import subprocess
import time
import uuid

import testtools

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AIO_DIR = os.environ.get('INCSNAP_AIO_DIR', os.path.join(REPO, '.aio'))
AIO = os.path.join(REPO, 'tools', 'aio')
EXPORT = os.path.join(AIO_DIR, 'export')
OPENSTACK = os.path.join(AIO_DIR, 'venv', 'bin', 'openstack')
TIMEOUT = float(os.environ.get('INCSNAP_E2E_TIMEOUT', '180'))
GiB = 1024 ** 3

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
    """Bring the stack up, unless tools/aio status says it is up."""
    global _stack_checked
    if _stack_checked:
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

    def create_snapshot(self, volume_id, *extra):
        snap = self.openstack('volume', 'snapshot', 'create', '--volume',
                              volume_id, *extra, self.unique_name('snap'))
        self.addCleanup(self._cleanup, 'volume snapshot', snap['id'])
        return snap

    def _cleanup(self, kind, ident):
        """Best effort removal of what a failed test left behind."""
        try:
            self.openstack(*kind.split(), 'delete', ident, parse=False)
        except CommandFailed:
            pass  # already gone (the test deleted it) or undeletable

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
