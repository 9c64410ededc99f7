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
"""File names on the share: only UUIDs name files, nothing climbs out."""

import os
import uuid

import fixtures
import testtools

from incsnap_driver import layout

SNAP = '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'


class CheckUuidTest(testtools.TestCase):

    def test_accepts_a_uuid(self):
        self.assertEqual(SNAP, layout.check_uuid('snapshot', SNAP))

    def test_refuses(self):
        for bad in ('../x', 'a/b', '', None, 'x', '../' + SNAP,
                    SNAP + '/..', SNAP[:-1] + '/', SNAP + '/x',
                    ' ' + SNAP, SNAP + '\n', SNAP + '.qcow2',
                    # UUID spellings that are not the canonical one would
                    # give file names snapshot_id_of cannot read back.
                    SNAP.upper(), '{%s}' % SNAP, 'urn:uuid:' + SNAP,
                    SNAP.replace('-', '')):
            exc = self.assertRaises(layout.UnsafeName, layout.check_uuid,
                                    'snapshot', bad)
            self.assertIn('snapshot id %r is not a UUID' % (bad,),
                          str(exc))

    def test_unsafe_name_is_a_value_error(self):
        self.assertRaises(ValueError, layout.check_uuid, 'volume', 'a/b')


class NamesTest(testtools.TestCase):

    def test_names(self):
        self.assertEqual('snapshot-%s.qcow2' % SNAP,
                         layout.snapshot_file(SNAP))
        self.assertEqual('snapshot-%s.qcow2.part' % SNAP,
                         layout.part_file(SNAP))
        self.assertEqual('revert-%s.undo.qcow2' % SNAP,
                         layout.undo_file(SNAP))
        self.assertEqual('/m/volume-v.incsnap',
                         layout.snapshot_dir('/m/volume-v'))
        self.assertEqual('/m/volume-v.revert.part',
                         layout.revert_file('/m/volume-v'))
        self.assertEqual('/m/volume-v.part',
                         layout.new_volume_part('/m/volume-v'))

    def test_names_refuse_unsafe_ids(self):
        for build in (layout.snapshot_file, layout.part_file,
                      layout.undo_file):
            self.assertRaises(layout.UnsafeName, build, '../../etc/passwd')

    def test_snapshot_id_of(self):
        self.assertEqual(SNAP, layout.snapshot_id_of(
            layout.snapshot_file(SNAP)))
        for name in (layout.part_file(SNAP), layout.undo_file(SNAP),
                     'chain.json', 'snapshot-x.qcow2',
                     'snapshot-%s.qcow2' % SNAP.upper(),
                     'snapshot-%s.raw' % SNAP, 'xsnapshot-%s.qcow2' % SNAP,
                     'volume-%s' % SNAP, ''):
            self.assertIsNone(layout.snapshot_id_of(name), name)

    def test_every_accepted_id_reads_back(self):
        for _ in range(50):
            sid = str(uuid.uuid4())
            self.assertEqual(sid, layout.snapshot_id_of(
                layout.snapshot_file(layout.check_uuid('snapshot', sid))))


class IsInsideTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.share = os.path.join(self.tmp, 'share')
        self.outside = os.path.join(self.tmp, 'outside')
        os.makedirs(os.path.join(self.share, 'volume-v.incsnap'))
        os.makedirs(self.outside)

    def test_plain_paths(self):
        self.assertTrue(layout.is_inside(
            self.share, os.path.join(self.share, 'volume-v')))
        self.assertTrue(layout.is_inside(
            self.share, os.path.join(self.share, 'volume-v.incsnap', 'f')))
        self.assertFalse(layout.is_inside(self.share, self.share))
        self.assertFalse(layout.is_inside(
            self.share, os.path.join(self.share, '..', 'outside', 'f')))
        # A sibling whose name starts with the share's is not inside it.
        self.assertFalse(layout.is_inside(self.share, self.share + '2/f'))

    def test_symlink_leading_out(self):
        link = os.path.join(self.share, 'volume-v.incsnap', 'evil')
        os.symlink(self.outside, link)
        self.assertFalse(layout.is_inside(self.share, link))
        self.assertFalse(layout.is_inside(self.share,
                                          os.path.join(link, 'f')))
        file_link = os.path.join(self.share, 'passwd')
        os.symlink('/etc/passwd', file_link)
        self.assertFalse(layout.is_inside(self.share, file_link))

    def test_symlink_staying_inside(self):
        link = os.path.join(self.share, 'alias')
        os.symlink('volume-v.incsnap', link)
        self.assertTrue(layout.is_inside(self.share,
                                         os.path.join(link, 'f')))

    def test_share_reached_through_a_symlink(self):
        alias = os.path.join(self.tmp, 'mnt')
        os.symlink(self.share, alias)
        self.assertTrue(layout.is_inside(alias,
                                         os.path.join(self.share, 'f')))
        self.assertTrue(layout.is_inside(self.share,
                                         os.path.join(alias, 'f')))
