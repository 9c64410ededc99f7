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
"""Options, AZ overrides, volumes that cannot hold bitmaps, extend."""

from cinder import exception

from tests.functional import base

MiB = base.MiB


class TestOptionErrors(base.FunctionalTestCase):
    """Bad values stop the driver at setup, naming option and value."""

    def assertSetupFails(self, option, value, *expected):
        exc = self.assertRaises(exception.InvalidConfigurationValue,
                                self.make_driver, **{option: value})
        message = str(exc)
        self.assertIn(option, message)
        for text in expected:
            self.assertIn(text, message)

    def test_delta_max_zero(self):
        self.assertSetupFails('snapshot_delta_max', 0, '0')

    def test_delta_max_negative(self):
        self.assertSetupFails('snapshot_delta_max', -3, '-3')

    def test_override_not_boolean(self):
        self.assertSetupFails('kvm_incremental_snapshot_az_overrides',
                              {'az1': 'maybe'}, 'az1:maybe')

    def test_override_delta_max_zero(self):
        self.assertSetupFails('snapshot_delta_max_az_overrides',
                              {'az1': '3', 'az2': '0'}, 'az2:0')

    def test_override_delta_max_not_a_number(self):
        self.assertSetupFails('snapshot_delta_max_az_overrides',
                              {'az1': 'x'}, 'az1:x')

    def test_timeout_zero(self):
        self.assertSetupFails('incsnap_copy_timeout', 0, '0')


class TestAvailabilityZones(base.FunctionalTestCase):

    backend_options = {
        'kvm_incremental_snapshot': True,
        'snapshot_delta_max': 3,
        'kvm_incremental_snapshot_az_overrides': {'az-off': 'false'},
        'snapshot_delta_max_az_overrides': {'az-two': '2'},
    }

    def kinds(self, volume, count):
        snaps = []
        for step in range(count):
            self.write(volume, step * MiB, MiB, 0x30 + step)
            ref = self.reference(volume, 's%d' % step)
            snap = self.create_snapshot(volume)
            self.assertSameContent(ref, self.snap_path(volume, snap))
            snaps.append(snap)
        return [s.metadata['incsnap:kind'] for s in snaps], snaps

    def test_backend_value_applies_outside_overrides(self):
        kinds, _ = self.kinds(self.create_volume(az='az-other'), 4)
        self.assertEqual(['full', 'incremental', 'incremental', 'full'],
                         kinds)

    def test_zone_with_incremental_off(self):
        volume = self.create_volume(az='az-off')
        kinds, snaps = self.kinds(volume, 3)
        self.assertEqual(['full'] * 3, kinds)
        self.assertEqual(['disabled'] * 3,
                         [s.metadata['incsnap:full_reason'] for s in snaps])
        # Nothing tracks writes in that zone.
        self.assertEqual([], self.bitmap_names(volume))

    def test_zone_with_own_delta_max(self):
        kinds, _ = self.kinds(self.create_volume(az='az-two'), 5)
        self.assertEqual(['full', 'incremental', 'full', 'incremental',
                          'full'], kinds)


class TestDisabled(base.FunctionalTestCase):

    backend_options = {'kvm_incremental_snapshot': False}

    def test_every_snapshot_full_and_correct(self):
        volume = self.create_volume()
        for step in range(3):
            self.write(volume, step * MiB, MiB, 0x60 + step)
            ref = self.reference(volume, 's%d' % step)
            snap = self.create_snapshot(volume)
            self.assertEqual('full', snap.metadata['incsnap:kind'])
            self.assertEqual('disabled', snap.metadata['incsnap:full_reason'])
            self.assertSameContent(ref, self.snap_path(volume, snap))
            self.assertNotIn('backing-filename',
                             self.image_info(self.snap_path(volume, snap)))
        self.assertEqual([], self.bitmap_names(volume))

    def test_turning_it_on_later_starts_a_chain(self):
        volume = self.create_volume()
        self.write(volume, 0, MiB, 0x61)
        self.create_snapshot(volume)
        driver = self.make_driver(kvm_incremental_snapshot=True)
        self.write(volume, MiB, MiB, 0x62)
        s2 = self.create_snapshot(volume, driver=driver)
        # The previous snapshot has no bitmap: a full starts the chain.
        self.assertEqual('full', s2.metadata['incsnap:kind'])
        self.write(volume, 2 * MiB, MiB, 0x63)
        ref = self.reference(volume, 's3')
        s3 = self.create_snapshot(volume, driver=driver)
        self.assertEqual('incremental', s3.metadata['incsnap:kind'])
        self.assertSameContent(ref, self.snap_path(volume, s3))


class TestVolumesWithoutBitmaps(base.FunctionalTestCase):
    """Raw or qcow2 v2 files (imported, managed): full and correct."""

    def replace_volume_file(self, volume, fmt, *options):
        path = self.volume_path(volume)
        tmp = path + '.conv'
        base.sh('qemu-img', 'convert', '-O', fmt, *options, path, tmp)
        base.sh('mv', tmp, path)

    def check_full_chain(self, volume, fmt):
        for step in range(3):
            base.sh('qemu-io', '-f', fmt, '-c',
                    'write -P 0x%02x %d %d' % (0x70 + step, step * MiB, MiB),
                    self.volume_path(volume))
            ref = self.reference(volume, 's%d' % step)
            snap = self.create_snapshot(volume)
            self.assertEqual('full', snap.metadata['incsnap:kind'])
            self.assertEqual('not_qcow2_v3',
                             snap.metadata['incsnap:full_reason'])
            self.assertSameContent(ref, self.snap_path(volume, snap))
        # The volume file was not changed into something else.
        self.assertEqual(fmt,
                         self.image_info(self.volume_path(volume))['format'])

    def test_raw_volume(self):
        volume = self.create_volume()
        self.replace_volume_file(volume, 'raw')
        self.check_full_chain(volume, 'raw')

    def test_qcow2_v2_volume(self):
        volume = self.create_volume()
        self.replace_volume_file(volume, 'qcow2', '-o', 'compat=0.10')
        self.check_full_chain(volume, 'qcow2')
        self.assertEqual([], self.bitmap_names(volume))


class TestExtend(base.FunctionalTestCase):

    def test_extend_keeps_the_chain(self):
        volume = self.create_volume(size=1)
        self.write(volume, 0, 2 * MiB, 0x81)
        ref1 = self.reference(volume, 's1')
        s1 = self.create_snapshot(volume)
        self.driver.extend_volume(volume, 2)
        volume.size = 2
        volume.save()
        info = self.image_info(self.volume_path(volume))
        self.assertEqual(2 * base.GiB, info['virtual-size'])
        self.assertEqual(['incsnap-%s' % s1.id], self.bitmap_names(volume))
        # Write past the old end and into the old area.
        self.write(volume, base.GiB + 4 * MiB, MiB, 0x82)
        self.write(volume, MiB, MiB, 0x83)
        ref2 = self.reference(volume, 's2')
        s2 = self.create_snapshot(volume)
        self.assertEqual('incremental', s2.metadata['incsnap:kind'])
        self.assertSameContent(ref2, self.snap_path(volume, s2))
        self.assertEqual(2 * base.GiB, self.image_info(
            self.snap_path(volume, s2))['virtual-size'])
        # The older, smaller snapshot still reads as it did.
        self.assertSameContent(ref1, self.snap_path(volume, s1))
        # And reverting to the newest works after the extend.
        self.write(volume, base.GiB + 10 * MiB, MiB, 0x84)
        self.driver.revert_to_snapshot(self.ctx, volume, s2)
        self.assertSameContent(ref2, self.volume_path(volume))
