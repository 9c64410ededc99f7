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
"""Option validation, AZ resolution, and reading a real config file."""

import os

import fixtures
from oslo_config import cfg
import testtools

from incsnap_driver import options

INC = 'kvm_incremental_snapshot'
DMAX = 'snapshot_delta_max'
INC_AZ = 'kvm_incremental_snapshot_az_overrides'
DMAX_AZ = 'snapshot_delta_max_az_overrides'


class ValidateTest(testtools.TestCase):

    def assertInvalid(self, raw, option, *texts):
        exc = self.assertRaises(options.InvalidOption, options.validate, raw)
        self.assertEqual(option, exc.option)
        self.assertIn(option, str(exc))
        for text in texts:
            self.assertIn(text, str(exc))
        return exc

    def test_defaults(self):
        settings = options.validate({})
        self.assertEqual(options.Settings(), settings)
        self.assertFalse(settings.incremental)
        self.assertEqual(16, settings.delta_max)
        self.assertEqual({}, settings.incremental_by_az)
        self.assertEqual({}, settings.delta_max_by_az)
        self.assertEqual(3600, settings.copy_timeout)
        self.assertEqual('off', settings.quiesce)

    def test_none_maps_are_empty(self):
        settings = options.validate({INC_AZ: None, DMAX_AZ: None})
        self.assertEqual(({}, {}), (settings.incremental_by_az,
                                    settings.delta_max_by_az))

    def test_bool_parsing(self):
        for value, expected in [(True, True), (False, False),
                                ('true', True), ('True', True),
                                ('yes', True), ('1', True), ('on', True),
                                ('false', False), ('no', False),
                                ('0', False), ('off', False)]:
            self.assertIs(expected,
                          options.validate({INC: value}).incremental,
                          value)
            by_az = options.validate({INC_AZ: {'az1': value}})
            self.assertIs(expected, by_az.incremental_by_az['az1'], value)

    def test_bad_bool(self):
        exc = self.assertInvalid({INC: 'maybe'}, INC, "'maybe'")
        self.assertEqual('maybe', exc.value)
        self.assertInvalid({INC: ''}, INC)

    def test_delta_max_accepted(self):
        self.assertEqual(1, options.validate({DMAX: 1}).delta_max)
        self.assertEqual(3, options.validate({DMAX: '3'}).delta_max)
        self.assertEqual(4, options.validate({DMAX: ' 4 '}).delta_max)

    def test_delta_max_rejected(self):
        for value, text in [(0, '>= 1'), (-1, '>= 1'), ('x', 'integer'),
                            (True, 'integer'), (False, 'integer'),
                            (2.5, 'integer')]:
            exc = self.assertInvalid({DMAX: value}, DMAX, text,
                                     repr(value))
            self.assertEqual(value, exc.value)
        # An empty setting (oslo.config gives None).
        self.assertInvalid({DMAX: None}, DMAX, 'not an integer')

    def test_az_maps(self):
        settings = options.validate({
            INC_AZ: {'az1': 'true', ' az2 ': 'false'},
            DMAX_AZ: {'az1': '3', 'az3': 32}})
        self.assertEqual({'az1': True, 'az2': False},
                         settings.incremental_by_az)
        self.assertEqual({'az1': 3, 'az3': 32}, settings.delta_max_by_az)

    def test_az_map_empty_zone(self):
        for option, value in [(INC_AZ, 'true'), (DMAX_AZ, '3')]:
            for zone in ('', '  '):
                self.assertInvalid({option: {'az1': value, zone: value}},
                                   option, 'empty availability zone')

    def test_az_map_bad_values_name_zone_and_value(self):
        exc = self.assertInvalid({INC_AZ: {'az1': 'true', 'az2': 'maybe'}},
                                 INC_AZ, 'az2:maybe', 'zone az2')
        self.assertEqual('az2:maybe', exc.value)
        for bad in ('0', '-1', 'x'):
            exc = self.assertInvalid({DMAX_AZ: {'az9': bad}}, DMAX_AZ,
                                     'az9:%s' % bad)
            self.assertEqual('az9:%s' % bad, exc.value)

    def test_az_map_not_a_map(self):
        self.assertInvalid({DMAX_AZ: 'az1:3'}, DMAX_AZ, 'az-name:value')

    def test_other_options(self):
        self.assertEqual(5, options.validate(
            {'incsnap_copy_timeout': '5'}).copy_timeout)
        for bad in (0, -3, 'soon'):
            self.assertInvalid({'incsnap_copy_timeout': bad},
                               'incsnap_copy_timeout')
        self.assertEqual('require', options.validate(
            {'incsnap_quiesce': 'require'}).quiesce)
        self.assertInvalid({'incsnap_quiesce': 'always'}, 'incsnap_quiesce',
                           'off, try, require')


class ResolveTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.settings = options.validate({
            INC: True, DMAX: 5,
            INC_AZ: {'az-off': 'false', 'az-both': 'false'},
            DMAX_AZ: {'az-short': '2', 'az-both': '9'}})

    def test_backend_values_outside_listed_zones(self):
        for zone in ('nova', None, ''):
            self.assertEqual(options.SnapshotPolicy(True, 5),
                             options.resolve(self.settings, zone))

    def test_each_option_resolved_independently(self):
        self.assertEqual(options.SnapshotPolicy(False, 5),
                         options.resolve(self.settings, 'az-off'))
        self.assertEqual(options.SnapshotPolicy(True, 2),
                         options.resolve(self.settings, 'az-short'))
        self.assertEqual(options.SnapshotPolicy(False, 9),
                         options.resolve(self.settings, 'az-both'))

    def test_defaults(self):
        self.assertEqual(options.SnapshotPolicy(False, 16),
                         options.resolve(options.validate({}), 'nova'))

    def test_override_enables_against_backend_off(self):
        settings = options.validate({INC_AZ: {'az1': 'yes'}})
        self.assertTrue(options.resolve(settings, 'az1').incremental)
        self.assertFalse(options.resolve(settings, 'az2').incremental)
        self.assertFalse(options.resolve(settings, None).incremental)


class ReadTest(testtools.TestCase):
    """options.read against a real ConfigOpts loaded from a file."""

    GROUP = 'incsnap-backend'

    def _read(self, body):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'cinder.conf')
        with open(path, 'w') as f:
            f.write('[%s]\n%s' % (self.GROUP, body))
        conf = cfg.ConfigOpts()
        conf.register_opts(options.incsnap_opts, group=self.GROUP)
        conf(args=[], project='incsnap-test', default_config_files=[path])
        self.addCleanup(conf.reset)
        return options.read(conf[self.GROUP])

    def test_valid_file(self):
        settings = self._read(
            'kvm_incremental_snapshot = true\n'
            'snapshot_delta_max = 3\n'
            'kvm_incremental_snapshot_az_overrides = az1:false,az2:true\n'
            'snapshot_delta_max_az_overrides = az1:7\n'
            'incsnap_quiesce = try\n')
        self.assertEqual(options.Settings(
            incremental=True, delta_max=3,
            incremental_by_az={'az1': False, 'az2': True},
            delta_max_by_az={'az1': 7}, quiesce='try'), settings)
        self.assertEqual(options.SnapshotPolicy(False, 7),
                         options.resolve(settings, 'az1'))

    def test_empty_section_gives_defaults(self):
        self.assertEqual(options.Settings(), self._read(''))

    def test_delta_max_not_an_integer(self):
        exc = self.assertRaises(options.InvalidOption, self._read,
                                'snapshot_delta_max = many\n')
        self.assertEqual(DMAX, exc.option)
        self.assertIn(DMAX, str(exc))
        self.assertIn("'many'", str(exc))

    def test_delta_max_zero(self):
        exc = self.assertRaises(options.InvalidOption, self._read,
                                'snapshot_delta_max = 0\n')
        self.assertEqual((DMAX, 0), (exc.option, exc.value))

    def test_malformed_map(self):
        exc = self.assertRaises(
            options.InvalidOption, self._read,
            'kvm_incremental_snapshot_az_overrides = az1:true,az2\n')
        self.assertEqual(INC_AZ, exc.option)
        self.assertIn(INC_AZ, str(exc))
        self.assertIn("'az1:true,az2'", str(exc))

    def test_bad_bool_in_map(self):
        exc = self.assertRaises(
            options.InvalidOption, self._read,
            'kvm_incremental_snapshot_az_overrides = az1:true,az2:maybe\n')
        self.assertEqual((INC_AZ, 'az2:maybe'), (exc.option, exc.value))

    def test_bad_bool(self):
        exc = self.assertRaises(options.InvalidOption, self._read,
                                'kvm_incremental_snapshot = sometimes\n')
        self.assertEqual(INC, exc.option)
        self.assertIn("'sometimes'", str(exc))


class ListOptsTest(testtools.TestCase):

    def test_list_opts(self):
        [(group, opts)] = options.list_opts()
        self.assertEqual('backend_defaults', group)
        names = {o.dest for o in opts}
        self.assertLessEqual({INC, DMAX, INC_AZ, DMAX_AZ}, names)
        # Each option's help mentions how it is overridden or resolved.
        by_name = {o.dest: o for o in opts}
        self.assertIn(INC_AZ, by_name[INC].help)
        self.assertIn(DMAX_AZ, by_name[DMAX].help)
