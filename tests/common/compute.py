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
"""The two compute hosts of ``tools/compute-hosts``, from a test.

``compute1`` and ``compute2`` are libvirtds in their own namespaces,
reached over TLS only (``qemu+tls://{host}/system?pkipath=...``), as a
cinder-volume reaches the compute hosts of a cloud. A share is mounted for
them under :attr:`Hosts.shares_dir` (the mount propagates into both
namespaces), at the same path on both, as Nova mounts a share on every
compute host.
"""

import dataclasses
import hashlib
import os
import subprocess
import time

import libvirt

from tests.common import commands

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(TOP, 'tools', 'compute-hosts')
NAMES = ('compute1', 'compute2')

# What Nova asks of libvirt for a live migration (its default flags),
# plus UNSAFE: libvirt calls a share that is not NFS (or another file
# system it knows as shared) unsafe to migrate on, because two hosts'
# page caches could disagree. Here both "hosts" are one kernel with one
# page cache, and the disks use cache='none' as Nova sets them.
MIGRATE_FLAGS = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
                 libvirt.VIR_MIGRATE_UNSAFE)

_hosts = None


@dataclasses.dataclass(frozen=True)
class Hosts:
    uri_template: str
    shares_dir: str
    log_dir: str

    def uri(self, host):
        return self.uri_template.replace('{host}', host)

    def connect(self, host):
        return libvirt.open(self.uri(host))

    def libvirtd_log(self, host):
        """The path of ``host``'s libvirtd log (agent, migration calls)."""
        return os.path.join(self.log_dir, host, 'root', 'var', 'log',
                            'libvirt', 'libvirtd.log')


def ensure_up():
    """``tools/compute-hosts up`` once per test process; the :class:`Hosts`.

    ``up`` is idempotent and takes a lock: test processes may ask at once.
    """
    global _hosts
    if _hosts is None:
        commands.run(SCRIPT, 'up')
        template = commands.run(SCRIPT, 'uri').strip()
        state = os.environ.get('INCSNAP_COMPUTE_DIR',
                               os.path.join(TOP, '.compute'))
        _hosts = Hosts(uri_template=template,
                       shares_dir=os.path.join(state, 'mnt'),
                       log_dir=os.path.join(state, 'hosts'))
    return _hosts


def mount_share(hosts, share, export, add_cleanup):
    """Mount ``export`` for the compute hosts; the path they see it at.

    ``<shares_dir>/<md5 of share>``, Nova's layout (its
    ``nfs_mount_point_base``/<hash>): a bind mount standing in for the
    compute hosts' NFS mount of the share, as the volume host's is.
    """
    path = os.path.join(hosts.shares_dir,
                        hashlib.md5(share.encode()).hexdigest())
    os.makedirs(path, exist_ok=True)
    commands.run('mount', '--bind', export, path)

    def unmount():
        # Lazily when busy: any process holding a directory there (not
        # only ours) keeps a plain umount from working.
        if subprocess.run(['umount', path], capture_output=True).returncode:
            subprocess.run(['umount', '-l', path], capture_output=True)
        try:
            os.rmdir(path)
        except OSError:
            pass
    add_cleanup(unmount)
    return path


def migrate(dom, dest_host, hosts, flags=MIGRATE_FLAGS, params=None):
    """Live-migrate ``dom`` peer-to-peer to ``dest_host``; seconds taken.

    The source libvirtd connects to the destination's itself, over TLS
    with its own client certificate (as Nova's ``live_migration_scheme =
    tls`` does); the memory goes over ``tcp://<dest_host>`` (the
    destination's ``migration_host``). ``params``: more migration
    parameters (``VIR_MIGRATE_PARAM_BANDWIDTH``, in MiB/s).
    """
    started = time.monotonic()
    params = dict(params or {})
    params[libvirt.VIR_MIGRATE_PARAM_URI] = 'tcp://%s' % dest_host
    dom.migrateToURI3('qemu+tls://%s/system' % dest_host, params, flags)
    return time.monotonic() - started
