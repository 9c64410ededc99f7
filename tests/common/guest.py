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
"""A real Linux guest (``tools/build-guest``) and its QEMU guest agent.

The guest is Debian's kernel with a busybox initramfs; its only disk is
the volume (``/dev/vda``), and ``qemu-ga`` answers on the virtio-serial
channel ``org.qemu.guest_agent.0``. Everything in the guest goes through
the agent, as libvirt's ``qemuAgentCommand`` sends it: ``guest-exec`` +
``guest-exec-status`` run shell commands (mkfs, mount, files, sha256sum,
sync, fsck), ``guest-fsfreeze-status`` says whether it is frozen.

The file system: ext4 made with ``lazy_itable_init=0,lazy_journal_init=0``
and mounted ``noatime``, so that an idle guest writes nothing (no
background inode table zeroing, no access times): its disk can then be
compared byte for byte with a snapshot.
"""

import base64
import dataclasses
import json
import os
import shlex
import subprocess
import time

import libvirt
import libvirt_qemu

from tests.common import commands

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MOUNT = '/mnt/vol'
CMDLINE = 'console=ttyS0 panic=-1'
NO_AGENT = 'incsnap.noagent'

_build = None


@dataclasses.dataclass(frozen=True)
class Build:
    """One build of the guest: its files and the domain type to run it."""

    kernel: str
    initrd: str
    virt_type: str


def build():
    """``tools/build-guest`` once per test process (cached across runs)."""
    global _build
    if _build is None:
        out = commands.run(os.path.join(TOP, 'tools', 'build-guest'),
                           timeout=900).strip().splitlines()[-1]
        with open(os.path.join(out, 'virt-type')) as f:
            virt_type = f.read().strip()
        _build = Build(kernel=os.path.join(out, 'vmlinux'),
                       initrd=os.path.join(out, 'initrd.img'),
                       virt_type=virt_type)
    return _build


def spec_fields(console_log, agent=True):
    """The :class:`tests.common.domains.Spec` fields of a guest."""
    from tests.common import domains
    b = build()
    cmdline = CMDLINE if agent else CMDLINE + ' ' + NO_AGENT
    return dict(boot=domains.Boot(kernel=b.kernel, initrd=b.initrd,
                                  cmdline=cmdline),
                agent=True, console_log=console_log, graphics=False,
                memory_mib=256)


def boot(doms, vm, path, console_log, agent=True):
    """Start the guest ``vm`` on ``doms`` with ``path`` as vda.

    ``doms``: a compute host's :class:`tests.common.domains.Domains`;
    ``cache='none'`` as Nova sets it. Returns (its
    :class:`tests.common.domains.Domain`, its :class:`Agent`, seconds
    until the agent answered, or None without an agent).
    """
    from tests.common import domains
    dom = doms.start([domains.Disk(path, cache='none')], uuid=vm,
                     types=[build().virt_type],
                     **spec_fields(console_log, agent=agent))
    agent_ = Agent(dom)
    return dom, agent_, agent_.wait_ready() if agent else None


class GuestError(AssertionError):
    """A command in the guest failed, or the agent did not answer."""


def _quiet(_ctx, _err):
    """libvirt prints every error to stderr by default; we raise them."""


class Agent:
    """The guest agent of one running domain, through libvirt."""

    def __init__(self, domain):
        self.domain = domain  # a tests.common.domains.Domain
        libvirt.registerErrorHandler(_quiet, None)

    def call(self, execute, timeout=10, **arguments):
        command = {'execute': execute}
        if arguments:
            command['arguments'] = arguments
        reply = libvirt_qemu.qemuAgentCommand(
            self.domain.lookup(), json.dumps(command), timeout, 0)
        return json.loads(reply).get('return')

    def wait_ready(self, timeout=180):
        """Wait until the agent answers ``guest-ping``; seconds waited."""
        started = time.monotonic()
        while True:
            try:
                self.call('guest-ping', timeout=2)
                return time.monotonic() - started
            except libvirt.libvirtError as exc:
                if time.monotonic() - started > timeout:
                    raise GuestError('the guest agent of %s did not answer '
                                     'within %d s: %s'
                                     % (self.domain.name, timeout, exc))
                time.sleep(0.2)

    def sh(self, script, timeout=120, check=True):
        """Run ``script`` with /bin/sh in the guest; (rc, stdout, stderr)."""
        pid = self.call('guest-exec', path='/bin/sh', arg=['-c', script],
                        **{'capture-output': True})['pid']
        deadline = time.monotonic() + timeout
        while True:
            status = self.call('guest-exec-status', pid=pid)
            if status['exited']:
                break
            if time.monotonic() > deadline:
                raise GuestError('guest command still runs after %d s: %s'
                                 % (timeout, script))
            time.sleep(0.05)
        out = base64.b64decode(status.get('out-data', '')).decode()
        err = base64.b64decode(status.get('err-data', '')).decode()
        rc = status.get('exitcode', -1)
        if check and rc != 0:
            raise GuestError('guest command failed (%s): %s\n%s%s'
                             % (rc, script, out, err))
        return rc, out, err

    def spawn(self, script):
        """Start ``script`` in the guest's background; returns at once."""
        self.call('guest-exec', path='/bin/sh',
                  arg=['-c', '(%s) >/dev/null 2>&1 &' % script])

    def fsfreeze_status(self):
        return self.call('guest-fsfreeze-status')

    # -- the volume's file system ------------------------------------------

    def format_and_mount(self, device='/dev/vda'):
        self.sh('mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 '
                '%s && mkdir -p %s && mount -o noatime %s %s'
                % (device, MOUNT, device, MOUNT))

    def mount(self, device='/dev/vda'):
        self.sh('mkdir -p %s && mount -o noatime %s %s'
                % (MOUNT, device, MOUNT))

    def write_file(self, name, kib):
        """A file of ``kib`` KiB of random bytes, synced; its SHA-256."""
        path = shlex.quote('%s/%s' % (MOUNT, name))
        _rc, out, _err = self.sh(
            'head -c %d /dev/urandom > %s && sync && sha256sum %s'
            % (kib * 1024, path, path))
        return out.split()[0]

    def files(self):
        """{name: sha256} of the regular files at the volume's root."""
        _rc, out, _err = self.sh(
            'cd %s && for f in *; do [ -f "$f" ] && sha256sum "$f"; done; '
            'true' % MOUNT)
        found = {}
        for line in out.splitlines():
            digest, name = line.split(None, 1)
            found[name.strip()] = digest
        return found

    def delete_files(self):
        self.sh('cd %s && for f in *; do [ -f "$f" ] && rm -f "$f"; done; '
                'sync' % MOUNT)

    def sync(self):
        self.sh('sync')

    def umount(self):
        self.sh('umount %s' % MOUNT)

    def fsck(self, device='/dev/vda'):
        """``fsck.ext4 -fn`` of the (unmounted) device; its output.

        Exit 0 (nothing to fix), else GuestError.
        """
        rc, out, err = self.sh('fsck.ext4 -fn %s' % device, check=False)
        if rc != 0:
            raise GuestError('fsck.ext4 -fn %s: exit %d\n%s%s'
                             % (device, rc, out, err))
        return out + err


def host_fsck(image, scratch):
    """``e2fsck -fn`` on the host of a qcow2 chain's content.

    Returns (clean, needs_recovery, output): whether e2fsck found nothing
    to fix, whether the file system's journal asked for a replay (it was
    mounted and not frozen when the image was taken).
    """
    raw = os.path.join(scratch, os.path.basename(image) + '.fsck.raw')
    commands.run('qemu-img', 'convert', '-U', '-O', 'raw', image, raw)
    try:
        header = commands.run('dumpe2fs', '-h', raw)
        features = ''
        for line in header.splitlines():
            if line.startswith('Filesystem features:'):
                features = line
        needs_recovery = 'needs_recovery' in features
        # -n: open read-only, answer no; exit 0 only when nothing is wrong.
        # With needs_recovery set, e2fsck -n cannot replay the journal and
        # says so (exit 4 when it finds what the replay would fix).
        result = subprocess.run(['e2fsck', '-fn', raw], capture_output=True,
                                text=True)
    finally:
        os.unlink(raw)
    return result.returncode == 0, needs_recovery, (result.stdout +
                                                    result.stderr)


def image_files(image, scratch):
    """{name: sha256} of the files at the root of the ext4 in ``image``.

    Read on the host, as a guest would find them after mounting a volume
    made from ``image``: a raw copy gets its journal replayed
    (``e2fsck -fy``, as mount would), then debugfs dumps each file. A
    snapshot of a mounted file system is compared this way, not byte for
    byte with the volume: ext4 goes on writing its journalled metadata to
    their home blocks (checkpointing) after a ``sync``, so an idle guest's
    disk still changes.
    """
    raw = os.path.join(scratch, os.path.basename(image) + '.files.raw')
    out_dir = raw + '.d'
    commands.run('qemu-img', 'convert', '-U', '-O', 'raw', image, raw)
    try:
        fixed = subprocess.run(['e2fsck', '-fy', raw], capture_output=True,
                               text=True)
        if fixed.returncode >= 4:
            raise GuestError('e2fsck -fy of a copy of %s: exit %d\n%s%s'
                             % (image, fixed.returncode, fixed.stdout,
                                fixed.stderr))
        listing = commands.run('debugfs', '-R', 'ls -p /', raw)
        os.makedirs(out_dir)
        found = {}
        for line in listing.splitlines():
            # /inode/mode/uid/gid/name/size/
            fields = line.strip().strip('/').split('/')
            if len(fields) < 6 or not fields[1].startswith('10'):
                continue  # not a regular file
            name = fields[4]
            dest = os.path.join(out_dir, name)
            commands.run('debugfs', '-R', 'dump /%s %s' % (name, dest), raw)
            found[name] = commands.run('sha256sum', dest).split()[0]
        return found
    finally:
        subprocess.run(['rm', '-rf', raw, out_dir])
