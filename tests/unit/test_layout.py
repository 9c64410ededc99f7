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
import tempfile
import uuid

import fixtures
import testtools

from incsnap_driver import layout

SNAP = '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'
VOL = '5d2c3a4b-1e0f-4a9b-8c7d-6e5f4a3b2c1d'


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

    def test_is_uuid(self):
        self.assertTrue(layout.is_uuid(SNAP))
        for bad in ('../x', '', None, SNAP.upper(), SNAP + '\n', SNAP[1:]):
            self.assertFalse(layout.is_uuid(bad), bad)

    def test_every_name_reads_back_by_its_own_reader_only(self):
        volume = layout.volume_file(SNAP)
        self.assertEqual('volume-%s' % SNAP, volume)
        names = {
            layout.snapshot_id_of: layout.snapshot_file(SNAP),
            layout.part_snapshot_id_of: layout.part_file(SNAP),
            layout.undo_snapshot_id_of: layout.undo_file(SNAP),
            layout.volume_id_of: volume,
            layout.snapshot_dir_volume_id_of: layout.snapshot_dir(volume),
            layout.volume_info_id_of: volume + layout.INFO_SUFFIX,
        }
        readers = list(names) + [layout.volume_part_id_of]
        for reader, name in names.items():
            for other in readers:
                self.assertEqual(SNAP if other is reader else None,
                                 other(name), (other.__name__, name))
        for name in (layout.revert_file(volume),
                     layout.new_volume_part(volume)):
            self.assertEqual(SNAP, layout.volume_part_id_of(name), name)
            for other in names:
                self.assertIsNone(other(name), (other.__name__, name))

    def test_readers_refuse_other_names(self):
        readers = (layout.snapshot_id_of, layout.part_snapshot_id_of,
                   layout.undo_snapshot_id_of, layout.volume_id_of,
                   layout.snapshot_dir_volume_id_of,
                   layout.volume_part_id_of, layout.volume_info_id_of)
        for name in ('', 'volume-x', 'volume-%s' % SNAP.upper(),
                     'volume-%s.revert' % SNAP, 'volume-%s.incsnapx' % SNAP,
                     'volume-%sXincsnap' % SNAP, 'xvolume-%s' % SNAP,
                     'snapshot-%s.qcow2x' % SNAP, 'revert-%s.qcow2' % SNAP,
                     'volume-%s/x' % SNAP, 'chain.json',
                     # A trailing newline is part of the name, not an end.
                     'volume-%s\n' % SNAP, 'snapshot-%s.qcow2\n' % SNAP,
                     'volume-%s.incsnap\n' % SNAP):
            for reader in readers:
                self.assertIsNone(reader(name), (reader.__name__, name))

    def test_chain_tmp(self):
        # The names tempfile gives the chain document while it is written.
        for _ in range(20):
            name = tempfile.mktemp(prefix=layout.CHAIN_TMP_PREFIX,
                                   suffix=layout.CHAIN_TMP_SUFFIX, dir='')
            self.assertTrue(layout.is_chain_tmp(name), name)
        for name in ('chain.json', '.chain..tmp', '.chain.a/b.tmp',
                     '.chainXabcXtmp', 'x.chain.abc.tmp', '.chain.abc.tmpx',
                     '.chain.abc.tmp\n'):
            self.assertFalse(layout.is_chain_tmp(name), name)

    def test_backing_name_problem(self):
        for name, why in (('/srv/volume-x.incsnap/' + SNAP, 'is absolute'),
                          ('sub/' + SNAP, 'contains "/"'),
                          ('..' + SNAP, 'contains ".."')):
            self.assertEqual(why, layout.backing_name_problem(name))
        self.assertIsNone(layout.backing_name_problem(
            layout.snapshot_file(SNAP)))

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


class LeftoverTest(testtools.TestCase):

    def test_never_complete_data(self):
        for name in (layout.part_file(SNAP), layout.undo_file(SNAP),
                     '.chain.abc_1.tmp'):
            self.assertTrue(layout.is_leftover(name), name)
        for name in (layout.snapshot_file(SNAP), layout.CHAIN_DOCUMENT):
            self.assertFalse(layout.is_leftover(name), name)

    def test_the_undo_file_a_journal_needs_is_kept(self):
        undo = layout.undo_file(SNAP)
        self.assertFalse(layout.is_leftover(undo, keep=undo))


class VolumesNamedTest(testtools.TestCase):

    def test_every_file_of_a_volume_names_it(self):
        share = '/mnt/abc'
        volume = os.path.join(share, layout.volume_file(VOL))
        for text in (volume, volume + '.part', volume + '.revert.part',
                     os.path.join(layout.snapshot_dir(volume),
                                  layout.snapshot_file(SNAP)),
                     '{"driver": "qcow2", "file": {"filename": "%s"}}'
                     % volume):
            self.assertEqual({VOL}, layout.volume_ids_named(text, share))
            self.assertEqual({VOL}, layout.volume_ids_named(text,
                                                            share + '/'))

    def test_other_shares_and_names_do_not(self):
        volume = '/mnt/abc/' + layout.volume_file(VOL)
        self.assertEqual(set(), layout.volume_ids_named(volume, '/mnt/ab'))
        self.assertEqual(set(), layout.volume_ids_named(
            '/mnt/abc/volume-not-a-uuid', '/mnt/abc'))
