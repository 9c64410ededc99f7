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
"""``incsnap_quiesce`` with a real guest agent.

A frozen ext4 has flushed its journal and cleared ``needs_recovery``
(ext4_freeze does both): a snapshot taken while the guest was frozen opens
with no journal replay. One taken while the guest writes without freezing
carries ``needs_recovery``: that is the difference the agent makes, and
what these tests show, next to the agent's calls in compute1's libvirtd
log and in the guest's own log (qemu-ga's, on its console).
"""

import logging
import os
import uuid

import fixtures

from tests.common import guest
from tests.common import images
from tests.functional import guest_base

WRITER = ('i=0; while [ ! -e /run/stop ] && [ $i -lt 20000 ]; do '
          'echo "line $i" >> %s/log; head -c 16384 /dev/urandom > '
          '%s/w$((i %% 50)); i=$((i+1)); done; touch /run/stopped'
          % (guest.MOUNT, guest.MOUNT))


class TestQuiesce(guest_base.GuestTestCase):

    def read_from(self, path, offset):
        with open(path, errors='replace') as f:
            f.seek(offset)
            return f.read()

    def size(self, path):
        return os.path.getsize(path) if os.path.exists(path) else 0

    def running_writer(self, volume, vm):
        self.attach(volume, vm, 'compute1')
        agent = self.boot(vm, volume, 'compute1')
        agent.format_and_mount()
        agent.spawn(WRITER)
        return agent

    def test_require_freezes_and_thaws_through_the_agent(self):
        driver = self.make_driver(incsnap_quiesce='require')
        volume = self.create_volume(size=1)
        vm = str(uuid.uuid4())
        agent = self.running_writer(volume, vm)
        log = self.hosts.libvirtd_log('compute1')
        console = self.console_log(vm)
        log_at, console_at = self.size(log), self.size(console)
        snap = self.snapshot(volume, driver=driver)
        # The agent was asked to freeze and thaw, and did.
        calls = self.read_from(log, log_at)
        self.assertIn('guest-fsfreeze-freeze', calls)
        self.assertIn('guest-fsfreeze-thaw', calls)
        self.assertLess(calls.index('guest-fsfreeze-freeze'),
                        calls.index('guest-fsfreeze-thaw'))
        guest_log = self.read_from(console, console_at)
        self.assertIn('"execute":"guest-fsfreeze-freeze"', guest_log)
        self.assertIn('disabling logging due to filesystem freeze', guest_log)
        self.assertIn('logging re-enabled due to filesystem unfreeze',
                      guest_log)
        self.assertEqual('thawed', agent.fsfreeze_status())
        # The writer went on after the thaw.
        self.assertIn('line', agent.sh('tail -n 1 %s/log' % guest.MOUNT)[1])
        # A volume from the snapshot: no journal replay needed, fsck clean.
        clean, needs_recovery, out = guest.host_fsck(
            self.snap_path(volume, snap), self.ref_dir)
        self.assertFalse(needs_recovery, out)
        self.assertTrue(clean, out)
        # Without quiesce, the same writing guest leaves a journal to
        # replay: what the freeze saved.
        plain = self.snapshot(volume, driver=self.make_driver(
            incsnap_quiesce='off'))
        _clean, needs_recovery, out = guest.host_fsck(
            self.snap_path(volume, plain), self.ref_dir)
        self.assertTrue(needs_recovery, out)
        agent.sh('touch /run/stop; while [ ! -e /run/stopped ]; do '
                 'sleep 0.1; done')

    def no_agent_guest(self, volume, vm):
        """A guest whose agent channel is there but no agent runs."""
        self.attach(volume, vm, 'compute1')
        self.boot(vm, volume, 'compute1', agent=False)

    def test_try_without_agent_takes_snapshot_with_warning(self):
        driver = self.make_driver(incsnap_quiesce='try')
        volume = self.create_volume(size=1)
        self.write(volume, 0, 1024 * 1024, 0x33)
        vm = str(uuid.uuid4())
        self.no_agent_guest(volume, vm)
        logger = self.useFixture(fixtures.FakeLogger(
            name='incsnap_driver', level=logging.WARNING))
        snap = self.snapshot(volume, driver=driver)
        self.assertEqual(('full', 'first'), self.kinds([snap])[0])
        self.assertIn('taking the snapshot without quiesce, as quiesce is '
                      '"try"', logger.output)
        self.assertIn(vm, logger.output)
        images.assert_same_content(self.snap_path(volume, snap),
                                   self.volume_path(volume))

    def test_require_without_agent_fails_volume_untouched(self):
        from cinder import exception
        from cinder import objects
        driver = self.make_driver(incsnap_quiesce='require')
        volume = self.create_volume(size=1)
        self.write(volume, 0, 1024 * 1024, 0x44)
        before = self.reference(volume, 'before')
        vm = str(uuid.uuid4())
        self.no_agent_guest(volume, vm)
        snap = self.new_snapshot(volume)
        error = self.assertRaises(
            exception.VolumeBackendAPIException, driver.create_snapshot,
            objects.Snapshot.get_by_id(self.ctx, snap.id))
        self.assertIn(snap.id, str(error))
        self.assertIn('quiesce is "require"', str(error))
        self.assertIn('guest agent', str(error))
        # Nothing written: no snapshot file, no checkpoint, no bitmap, the
        # volume as it was.
        self.assertEqual(['chain.json'], self.files_in(self.snap_dir(volume)))
        self.assertEqual([], self.checkpoints(vm))
        self.domain(vm).destroy(graceful=True)
        self.assertEqual([], self.bitmap_names(volume))
        self.assertSameContent(self.volume_path(volume), before)
