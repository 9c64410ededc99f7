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
"""The real driver, two compute hosts over TLS, a real Linux guest.

``tools/compute-hosts`` runs ``compute1`` and ``compute2`` (libvirtds in
their own namespaces, TLS only); the driver reaches them with
``incsnap_libvirt_uri = qemu+tls://{host}/system?pkipath=...``, the host
being the attachment's ``attached_host`` as Nova fills it. The compute
hosts see the share at ``.compute/mnt/<md5 of the share>`` (a bind mount
standing in for their NFS mount, as the volume host's stands in for its
own), not at the volume host's mount point.

The guest (``tools/build-guest``) formats the volume ext4 and the tests
make, checksum and delete files in it through its agent.
"""

import json
import os
import sys
import tempfile
import uuid

import eventlet

from tests.common import attachments
from tests.common import compute
from tests.common import domains
from tests.common import guest
from tests.functional import base

MiB = base.MiB


class GuestTestCase(base.FunctionalTestCase):

    def setUp(self):
        self.hosts = compute.ensure_up()
        self.build = guest.build()
        self.backend_options = dict(
            self.backend_options,
            incsnap_libvirt_uri=self.hosts.uri_template)
        super().setUp()
        # QEMU runs as libvirt-qemu: it must reach the export.
        for path in (self.root, os.path.join(self.root, 'exports'),
                     self.export):
            os.chmod(path, 0o755)
        self.compute_dir = compute.mount_share(self.hosts, self.share,
                                               self.export, self.addCleanup)
        self.consoles = tempfile.mkdtemp(dir=self.root, prefix='consoles-')
        os.chmod(self.consoles, 0o755)
        self.domains = {h: domains.Domains(self.addCleanup, 'incsnap-guest',
                                           uri=self.hosts.uri(h))
                        for h in compute.NAMES}
        self.where = {}   # instance uuid -> host it runs on
        self.specs = {}   # instance uuid -> its Spec

    # -- guests --------------------------------------------------------------

    def compute_path(self, volume):
        """The volume file as the compute hosts see it."""
        return os.path.join(self.compute_dir,
                            os.path.basename(self.volume_path(volume)))

    def console_log(self, vm):
        return os.path.join(self.consoles, vm + '.log')

    def boot(self, vm, volume, host='compute1', agent=True):
        """Start the guest ``vm`` on ``host`` with the volume as vda.

        Returns its :class:`tests.common.guest.Agent` once the agent
        answers (or at once, without an agent).
        """
        dom, agent_, seconds = guest.boot(
            self.domains[host], vm, self.compute_path(volume),
            self.console_log(vm), agent=agent)
        self.where[vm] = host
        self.specs[vm] = dom.spec
        if agent:
            sys.stderr.write('guest %s up on %s (%s) in %.1f s\n'
                             % (vm[:8], host, self.build.virt_type, seconds))
        return agent_

    def domain(self, vm):
        return self.domains[self.where[vm]].get(vm)

    def stop(self, vm, agent=None):
        """Stop the guest as a clean shutdown would: unmount, power off."""
        if agent is not None:
            agent.umount()
        self.domain(vm).destroy(graceful=True)

    def migrate(self, vm, dest):
        """Live-migrate ``vm`` to ``dest`` (as Nova does); seconds taken.

        Returns (seconds, the guest's agent on ``dest``).
        """
        src = self.where[vm]
        seconds = compute.migrate(self.domain(vm).lookup(), dest, self.hosts)
        dom = self.domains[dest].adopt(vm, self.specs[vm])
        self.where[vm] = dest
        self.assertTrue(dom.is_active())
        self.assertFalse(self.domains[src].get(vm).is_active())
        return seconds, guest.Agent(dom)

    # -- Cinder's view -------------------------------------------------------

    def attach(self, volume, vm, host):
        """An attachment as Nova makes it: instance, compute host name."""
        return attachments.attach(self.ctx, volume, vm, host)

    def move_attachment(self, volume, att, host):
        """Move the attachment to ``host``, as Nova does on a migration.

        An attachment for the destination host, then the source's goes.
        """
        new = self.attach(volume, att.instance_uuid, host)
        att.destroy()
        return new

    def detach(self, volume, att):
        attachments.detach(volume, att)

    def spawn_snapshot(self, volume):
        """create_snapshot in a green thread, as cinder-volume runs it.

        Returns (snapshot, green thread, outcome): ``outcome`` gets
        ``done`` or the ``error`` raised. Wait with ``eventlet.sleep`` or
        ``thread.wait()`` so that the hub runs it.
        """
        from cinder import objects
        snap = self.new_snapshot(volume)
        outcome = {}

        def take():
            try:
                self.driver.create_snapshot(
                    objects.Snapshot.get_by_id(self.ctx, snap.id))
                outcome['done'] = True
            except Exception as exc:
                outcome['error'] = exc
        return snap, eventlet.spawn(take), outcome

    def running_guest(self, host='compute1', snapshot=True):
        """A volume attached to a guest on ``host``, ext4, file ``a``.

        With ``snapshot``, a first (full) snapshot of it. Returns (volume,
        vm, attachment, agent, {file: sha256}, the snapshot or None).
        """
        volume = self.create_volume(size=1)
        vm = str(uuid.uuid4())
        att = self.attach(volume, vm, host)
        agent = self.boot(vm, volume, host)
        agent.format_and_mount()
        files = {'a': agent.write_file('a', 256)}
        s1 = self.snapshot(volume) if snapshot else None
        return volume, vm, att, agent, files, s1

    def snapshot(self, volume, driver=None):
        from cinder import objects
        volume = objects.Volume.get_by_id(self.ctx, volume.id)
        return self.create_snapshot(volume, driver=driver)

    def volume_from(self, snap, source):
        from cinder import objects
        new = objects.Volume(
            context=self.ctx, size=source.size, status='creating',
            host=source.host, availability_zone='nova',
            attach_status='detached',
            volume_type_id=source.volume_type_id, project_id='p',
            user_id='u')
        new.create()
        new.update(self.driver.create_volume_from_snapshot(new, snap))
        new.status = 'available'
        new.save()
        self.addCleanup(self._delete_volume_quietly, new)
        return new

    def assertFiles(self, volume, expected, host='compute1'):
        """Boot a guest on ``volume``: exactly ``expected`` files, fsck clean.

        ``expected``: {name: sha256}.
        """
        vm = str(uuid.uuid4())
        agent = self.boot(vm, volume, host)
        agent.mount()
        self.assertEqual(expected, agent.files())
        agent.umount()
        agent.fsck()  # exit 0: nothing to fix
        self.domain(vm).destroy()

    def assertSnapshotFiles(self, volume, snap, expected):
        """The snapshot's file system holds exactly ``expected``.

        Read on the host (:func:`tests.common.guest.image_files`).
        """
        self.assertEqual(expected, guest.image_files(
            self.snap_path(volume, snap), self.ref_dir))

    def chain_doc(self, volume):
        with open(os.path.join(self.snap_dir(volume), 'chain.json')) as f:
            return json.load(f)

    def kinds(self, snaps):
        return [(s.metadata['incsnap:kind'],
                 s.metadata.get('incsnap:full_reason')) for s in snaps]

    def checkpoints(self, vm):
        return sorted(c.getName()
                      for c in self.domain(vm).lookup().listAllCheckpoints(0))
