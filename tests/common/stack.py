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
"""The all-in-one stack of ``tools/aio``, from the client side.

Its files in ``$AIO_DIR`` (``clouds.yaml`` and ``openrc`` for the admin,
``secrets``, the export behind the share, PID files), the ``openstack``
CLI of its virtualenv, waiting for a resource's status, attaching like
Nova (``tools/aio-attach.py``) and restarting a service. Used by the e2e
tests and, alike, by any suite that drives the stack (a browser).

The stack in ``<repo>/.aio`` is brought up from this checkout when it is
not running; one named by ``INCSNAP_AIO_DIR`` is someone else's (shared)
and is used as it runs, never brought "up".  A stack listens on its own
loopback address (``AIO_HOST`` of ``tools/aio``); clients find it in the
stack's files: ``clouds.yaml`` for the CLI, ``stack.env`` (``AIO_HOST``,
``KEYSTONE_URL``, ``CINDER_URL`` and what pieces add) for the rest.

Environment:
    INCSNAP_AIO_DIR        the stack's state folder (default <repo>/.aio)
    AIO_HOST               the address of the stack brought up from this
                           checkout (passed on to ``tools/aio up``)
    INCSNAP_E2E_TIMEOUT    seconds a volume/snapshot may take to settle
"""

import configparser
import hashlib
import json
import os
import shlex
import subprocess
import time

from tests.common import commands

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AIO = os.path.join(REPO, 'tools', 'aio')
ATTACH = os.path.join(REPO, 'tools', 'aio-attach.py')
CLOUD = 'incsnap-aio'
TIMEOUT = float(os.environ.get('INCSNAP_E2E_TIMEOUT', '180'))

# Statuses after which a resource never becomes usable by itself.
FAILED = {'error', 'error_deleting', 'error_extending', 'error_restoring',
          'error_managing', 'error_backing-up'}

CommandFailed = commands.CommandFailed


def not_found(exc):
    """Whether a failed ``show`` said the resource does not exist."""
    err = exc.proc.stderr
    return 'No ' in err or 'not found' in err.lower()


def parse_properties(props):
    """Snapshot/volume properties as a dict.

    Older clients print them as text: ``k='v', k2='v2'``.
    """
    if isinstance(props, str):
        props = dict(kv.split('=', 1) for kv in props.split(', ') if kv)
        props = {k: v.strip("'") for k, v in props.items()}
    return props


def nfs_disk_path(connection_info):
    """Where a compute host sees an NFS volume's file.

    Nova's NFS volume driver mounts the share at
    ``<mount_point_base>/<md5 of export>``.
    """
    md5 = hashlib.md5(connection_info['export'].encode()).hexdigest()
    return os.path.join(connection_info['mount_point_base'], md5,
                        connection_info['name'])


def read_assignments(path):
    """``KEY=VALUE`` lines (``export`` and shell quoting allowed)."""
    values = {}
    with open(path) as f:
        for line in f:
            words = shlex.split(line, comments=True)
            if words and words[0] == 'export':
                words = words[1:]
            if len(words) == 1 and '=' in words[0]:
                key, _sep, value = words[0].partition('=')
                values[key] = value
    return values


class Stack:
    """One all-in-one stack, named by its state folder."""

    def __init__(self, aio_dir, shared):
        self.aio_dir = aio_dir
        self.shared = shared
        # The exports behind the backend's two shares (two pools).
        self.exports = [os.path.join(aio_dir, 'export'),
                        os.path.join(aio_dir, 'export-2')]
        self.export = self.exports[0]
        self.venv_bin = os.path.join(aio_dir, 'venv', 'bin')
        self.openstack_cli = os.path.join(self.venv_bin, 'openstack')
        self.python = os.path.join(self.venv_bin, 'python')
        self.clouds_yaml = os.path.join(aio_dir, 'clouds.yaml')
        self.openrc = os.path.join(aio_dir, 'openrc')
        self.secrets_file = os.path.join(aio_dir, 'secrets')
        self.stack_env_file = os.path.join(aio_dir, 'stack.env')
        self.cinder_conf = os.path.join(aio_dir, 'etc', 'cinder',
                                        'cinder.conf')
        self._up = False

    @classmethod
    def from_environment(cls):
        shared = 'INCSNAP_AIO_DIR' in os.environ
        return cls(os.environ.get('INCSNAP_AIO_DIR',
                                  os.path.join(REPO, '.aio')), shared)

    # -- the stack's files -------------------------------------------------

    def ensure_up(self, nodes=1):
        """Bring the stack up, unless ``tools/aio status`` says it is up.

        ``nodes``: the cinder-volume nodes it must have (``tools/aio up
        --nodes``); a stack with another number is brought up again with
        these. A shared stack must be there already, as it is. Once per
        process.
        """
        if self._up:
            return
        if self.shared:
            if not os.path.exists(self.clouds_yaml):
                raise RuntimeError('no stack in %s (INCSNAP_AIO_DIR)'
                                   % self.aio_dir)
            self._up = True
            return
        status = subprocess.run([AIO, 'status'], env=self.aio_env(),
                                capture_output=True, text=True)
        if status.returncode != 0 or self.nodes() != nodes:
            up = subprocess.run([AIO, 'up'],
                                env=dict(self.aio_env(),
                                         AIO_NODES=str(nodes)),
                                capture_output=True, text=True)
            if up.returncode != 0:
                raise RuntimeError('tools/aio up failed:\n%s\n%s'
                                   % (up.stdout[-4000:], up.stderr[-4000:]))
        self._up = True

    def aio_env(self):
        return dict(os.environ, AIO_DIR=self.aio_dir)

    def nodes(self):
        """The stack's cinder-volume nodes (``tools/aio up --nodes``)."""
        if not os.path.exists(self.stack_env_file):
            return 1
        return int(self.addresses().get('AIO_NODES') or 1)

    def secrets(self):
        """The stack's passwords (ADMIN_PASSWORD, CINDER_PASSWORD, ...)."""
        return read_assignments(self.secrets_file)

    def addresses(self):
        """``stack.env``: AIO_HOST, KEYSTONE_URL, CINDER_URL, ...

        A stack made before ``tools/aio`` wrote that file is on 127.0.0.1.
        """
        if not os.path.exists(self.stack_env_file):
            return {'AIO_HOST': '127.0.0.1',
                    'KEYSTONE_URL': 'http://127.0.0.1:5000/v3',
                    'CINDER_URL': 'http://127.0.0.1:8776'}
        return read_assignments(self.stack_env_file)

    def admin_credentials(self):
        """The admin's ``OS_*`` settings from ``openrc`` (a login)."""
        return {k: v for k, v in read_assignments(self.openrc).items()
                if k.startswith('OS_')}

    def compute_hosts_dir(self):
        """The state folder of the compute hosts cinder-volume reaches.

        See ``tools/aio.d/compute-hosts.sh``; None: the machine's
        libvirtd through the stack's relay.
        """
        return self.addresses().get('COMPUTE_HOSTS') or None

    def shares(self):
        """(share, export) of each of the backend's shares (``nfs_shares``).

        E.g. ``('127.0.0.1:/srv/incsnap-export', '<aio>/export')``, in the
        order of :attr:`exports`.
        """
        with open(os.path.join(self.aio_dir, 'etc', 'cinder',
                               'nfs_shares')) as f:
            return list(zip(f.read().split(), self.exports))

    def cinder_conf_text(self):
        with open(self.cinder_conf) as f:
            return f.read()

    def backends(self):
        """The stack's ``enabled_backends`` (incsnap, and nfs if there)."""
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(self.cinder_conf_text())
        return [b.strip() for b in
                parser.get('DEFAULT', 'enabled_backends').split(',')
                if b.strip()]

    def service_pid(self, service):
        with open(os.path.join(self.aio_dir, 'run',
                               '%s.pid' % service)) as f:
            return int(f.read().strip())

    def restart_service(self, service):
        """``tools/aio restart SERVICE``: back in service when it returns."""
        commands.run(AIO, 'restart', service, env=self.aio_env())

    def log_lines(self, service, text):
        """Lines holding ``text`` logged by ``service`` since its last start.

        ``tools/aio`` appends each start's output to ``log/SERVICE.log``
        after a line ``===== <date> start SERVICE =====``.
        """
        marker = ' start %s =====' % service
        found = []
        try:
            with open(os.path.join(self.aio_dir, 'log',
                                   '%s.log' % service)) as f:
                for line in f:
                    if line.startswith('=====') and marker in line:
                        found = []
                    elif text in line:
                        found.append(line.rstrip('\n'))
        except FileNotFoundError:
            pass
        return found

    def wait_log(self, service, text, timeout=TIMEOUT):
        """:meth:`log_lines` once there is one; AssertionError if none."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.log_lines(service, text)
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError('%s logged no %r since its start within %s s'
                             % (service, text, timeout))

    # -- the export behind the share ---------------------------------------

    def volume_path(self, volume_id):
        """The volume's file, on whichever share holds it.

        The first share's path when neither does (a volume not created
        yet, or deleted).
        """
        return os.path.join(self.export_of(volume_id) or self.export,
                            'volume-%s' % volume_id)

    def export_of(self, volume_id):
        """The export holding the volume; None when no share has it.

        By its file or its snapshot folder (which stays when the file was
        removed behind Cinder's back).
        """
        name = 'volume-%s' % volume_id
        for export in self.exports:
            for path in (name, name + '.incsnap'):
                if os.path.lexists(os.path.join(export, path)):
                    return export
        return None

    def snap_dir(self, volume_id):
        return self.volume_path(volume_id) + '.incsnap'

    def snap_file(self, volume_id, snap_id):
        return os.path.join(self.snap_dir(volume_id),
                            'snapshot-%s.qcow2' % snap_id)

    def files_named(self, fragment):
        """Files under the exports whose name contains ``fragment``."""
        found = []
        for export in self.exports:
            for top, _dirs, files in os.walk(export):
                found += [os.path.join(top, f) for f in files
                          if fragment in f]
        return sorted(found)

    # -- the CLI -----------------------------------------------------------

    def cli_env(self):
        """The admin cloud from clouds.yaml, and nothing else of OS_*."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env.update(OS_CLIENT_CONFIG_FILE=self.clouds_yaml, OS_CLOUD=CLOUD)
        env['PATH'] = self.venv_bin + ':' + env['PATH']
        return env

    def openstack(self, *args, parse=True):
        """Run ``openstack ARGS``; its JSON output (or its text)."""
        cmd = [self.openstack_cli] + list(args)
        if parse:
            cmd += ['-f', 'json']
        out = commands.run(*cmd, env=self.cli_env(), timeout=120)
        return json.loads(out) if parse else out

    def status(self, kind, ident):
        """``openstack KIND show ID``'s status; None when it is gone."""
        try:
            return self.openstack(*kind.split(), 'show', ident)['status']
        except CommandFailed as exc:
            if not_found(exc):
                return None
            raise

    def wait_status(self, kind, ident, want, timeout=TIMEOUT):
        """Poll until the status is ``want``; every status seen, in order.

        AssertionError at once on an error status, or after ``timeout``.
        """
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            status = self.openstack(*kind.split(), 'show', ident)['status']
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == want:
                return seen
            if status in FAILED:
                raise AssertionError('%s %s went to %s (statuses seen: %s)'
                                     % (kind, ident, status, seen))
            if time.monotonic() > deadline:
                raise AssertionError('%s %s not %s after %ds (statuses '
                                     'seen: %s)' % (kind, ident, want,
                                                    timeout, seen))
            time.sleep(1)

    def wait_gone(self, kind, ident, timeout=TIMEOUT):
        """Poll until ``show`` says it does not exist; statuses seen."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(kind, ident)
            if status is None:
                return seen
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in FAILED:
                raise AssertionError('%s %s went to %s while deleted '
                                     '(statuses seen: %s)'
                                     % (kind, ident, status, seen))
            if time.monotonic() > deadline:
                raise AssertionError('%s %s still there after %ds '
                                     '(statuses seen: %s)'
                                     % (kind, ident, timeout, seen))
            time.sleep(1)

    def delete_quietly(self, kind, ident, timeout=TIMEOUT):
        """Best-effort delete (clean-up), until gone or not deletable.

        Waiting, so that a volume's snapshots go before the volume.
        """
        try:
            self.openstack(*kind.split(), 'delete', ident, parse=False)
        except CommandFailed:
            return  # already gone (the test deleted it) or undeletable
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = self.openstack(*kind.split(), 'show',
                                        ident)['status']
            except CommandFailed:
                return
            if status in FAILED:
                return
            time.sleep(1)

    # -- attachments, the way Nova makes them ------------------------------

    def attach(self, volume_id, instance_uuid, host=None):
        """Attachment create (3.54, with a connector) + complete (3.44).

        ``host``: the connector's host, which Cinder records as the
        attachment's ``attached_host`` (default: this machine's name).
        Returns ``(attachment id, connection info)``.
        """
        where = ['--host', host] if host else []
        att = json.loads(commands.run(self.python, ATTACH, 'attach',
                                      volume_id, instance_uuid, *where,
                                      env=self.cli_env()))
        return att['attachment_id'], att['connection_info']

    def detach(self, attachment_id, check=True):
        """Delete the attachment with the service token Nova would send."""
        commands.run(self.python, ATTACH, 'detach', attachment_id,
                     '--secrets', self.secrets_file, env=self.cli_env(),
                     check=check)
