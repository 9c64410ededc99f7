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
"""Bitmap trust rules and the QEMU version floor, from real QEMU output."""

import testtools

from incsnap_driver import chain
from incsnap_driver.qemu import bitmaps
from incsnap_driver.qemu import version

HEALTHY = chain.BitmapState(recording=True, consistent=True)

# The "bitmaps" list of `qemu-img info --output=json` (QEMU 7.2), under
# format-specific/data.
HEADER = [
    {'flags': ['auto'], 'name': 'incsnap-a', 'granularity': 65536},
    {'flags': ['in-use', 'auto'], 'name': 'incsnap-b',
     'granularity': 65536},
    {'flags': [], 'name': 'incsnap-c', 'granularity': 65536},
    {'flags': ['in-use'], 'name': 'backup-tool-x', 'granularity': 65536},
    {'name': 'no-flags', 'granularity': 65536},
]

# "dirty-bitmaps" of a node from query-block / query-named-block-nodes.
QEMU = [
    {'name': 'incsnap-a', 'recording': True, 'persistent': True,
     'busy': False, 'granularity': 65536, 'count': 0},
    {'name': 'incsnap-b', 'recording': True, 'persistent': True,
     'busy': False, 'granularity': 65536, 'count': 1048576,
     'inconsistent': True},
    {'name': 'incsnap-c', 'recording': False, 'persistent': True,
     'busy': False, 'granularity': 65536, 'count': 0},
    {'name': 'scratch', 'recording': True, 'persistent': False,
     'busy': False, 'granularity': 65536, 'count': 0},
    {'recording': True, 'persistent': False, 'busy': False,
     'granularity': 65536, 'count': 0},   # anonymous, never persistent
]


class FromHeaderTest(testtools.TestCase):

    def test_flags(self):
        states = bitmaps.from_header(HEADER)
        self.assertEqual(
            {'incsnap-a': HEALTHY,
             # in-use with no QEMU running: QEMU died, do not trust it.
             'incsnap-b': chain.BitmapState(recording=True,
                                            consistent=False),
             'incsnap-c': chain.BitmapState(recording=False,
                                            consistent=True),
             'backup-tool-x': chain.BitmapState(recording=False,
                                                consistent=False),
             'no-flags': chain.BitmapState(recording=False,
                                           consistent=True)},
            states)

    def test_flags_none(self):
        states = bitmaps.from_header([{'name': 'x', 'flags': None}])
        self.assertEqual({'x': chain.BitmapState(recording=False)}, states)

    def test_empty(self):
        self.assertEqual({}, bitmaps.from_header([]))


class FromQemuTest(testtools.TestCase):

    def test_states(self):
        self.assertEqual(
            {'incsnap-a': HEALTHY,
             'incsnap-b': chain.BitmapState(recording=True,
                                            consistent=False),
             'incsnap-c': chain.BitmapState(recording=False,
                                            consistent=True)},
            bitmaps.from_qemu(QEMU))

    def test_non_persistent_are_ignored(self):
        states = bitmaps.from_qemu(QEMU)
        self.assertNotIn('scratch', states)
        self.assertEqual(3, len(states))

    def test_defaults_when_fields_absent(self):
        self.assertEqual({'x': HEALTHY}, bitmaps.from_qemu([{'name': 'x'}]))


class ParseVersionTest(testtools.TestCase):

    def test_real_outputs(self):
        cases = [
            ('qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n'
             'Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project '
             'developers\n', (7, 2, 22)),
            ('qemu-img version 6.2.0 (Debian 1:6.2+dfsg-2ubuntu6.22)\n'
             'Copyright (c) 2003-2021 Fabrice Bellard and the QEMU Project '
             'developers\n', (6, 2, 0)),
            ('qemu-img version 8.2.0 (qemu-kvm-8.2.0-11.el9_4.6)\n'
             'Copyright (c) 2003-2023 Fabrice Bellard and the QEMU Project '
             'developers\n', (8, 2, 0)),
            ('qemu-img version 4.2.1 (Debian 1:4.2-3ubuntu6.27)\n',
             (4, 2, 1)),
            ('qemu-img version 9.0.0\nCopyright (c) 2003-2024 Fabrice '
             'Bellard and the QEMU Project developers\n', (9, 0, 0)),
            ('qemu-img version 8.1.50 (v8.1.0-2345-gdeadbeef)\n',
             (8, 1, 50)),
            ('qemu-img version 2.0\n', (2, 0, 0)),
        ]
        for text, expected in cases:
            self.assertEqual(expected, version.parse(text), text)

    def test_no_version(self):
        for text in ('', None, 'qemu-img: command not found',
                     'qemu-img version\n'):
            exc = self.assertRaises(ValueError, version.parse, text)
            self.assertIn('no QEMU version', str(exc))


class CheckVersionTest(testtools.TestCase):

    def test_below(self):
        for found in ((6, 0, 1), (6, 0, 0), (5, 2, 0), (4, 2, 1)):
            problem = version.check(found)
            self.assertIsNotNone(problem, found)
            self.assertIn('QEMU %s is installed' % version.text(found),
                          problem)
            self.assertIn('>= 6.1.0', problem)
            self.assertIn('kvm_incremental_snapshot', problem)

    def test_at_and_above(self):
        for found in ((6, 1, 0), (6, 1, 1), (6, 2, 0), (7, 2, 22),
                      (10, 0, 0), version.parse(
                          'qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7'
                          '+deb12u18+b3)')):
            self.assertIsNone(version.check(found), found)

    def test_short_tuples(self):
        # A version written as major.minor is the .0 release.
        self.assertIsNone(version.check((6, 1)))
        self.assertIsNone(version.check((7, 0)))
        self.assertIsNotNone(version.check((6, 0)))
        self.assertIsNone(version.check((6, 1, 0), needed=(6, 1)))

    def test_other_floor(self):
        self.assertIsNotNone(version.check((7, 2, 22), needed=(8, 0, 0)))
        self.assertIsNone(version.check((8, 0, 0), needed=(8, 0, 0)))
