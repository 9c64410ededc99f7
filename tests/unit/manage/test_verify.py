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
"""verify's rules over hand-built facts: no files, no qemu-img."""

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.manage.checks import model
from tests.unit.manage import scans

VOL, S1, S2, S3, OTHER = scans.IDS
snap_file = scans.snap_file
good_scan = scans.good_scan


class TestHealthyChain(scans.CheckTestCase):

    def test_no_problem(self):
        self.assertEqual([], self.problems(good_scan()))
        self.assertEqual([], self.problems(good_scan(), offline=True))

    def test_empty_folder_no_problem(self):
        scan = good_scan()
        scan.chain = chain_mod.Chain(volume_id=VOL)
        scan.entries = {}
        scan.volume_image.bitmaps = []
        self.assertEqual([], self.problems(scan))


class TestDocument(scans.CheckTestCase):

    def test_unreadable(self):
        scan = good_scan()
        scan.chain = None
        scan.chain_error = 'chain document /x/chain.json is unreadable: boom'
        [problem] = self.only(self.problems(scan), 'chain_unreadable')
        self.assertEqual(VOL, problem.volume)
        self.assertEqual('volume-%s.incsnap/chain.json' % VOL, problem.file)

    def test_parent_not_in_chain(self):
        scan = good_scan()
        scan.chain.snapshots[1].parent = OTHER
        codes = {p.code for p in self.problems(scan)}
        self.assertIn('parent_unknown', codes)

    def test_depth_wrong(self):
        scan = good_scan()
        scan.chain.snapshots[2].depth = 5
        [problem] = self.only(self.problems(scan), 'depth_wrong')
        self.assertEqual(S3, problem.snapshot)
        self.assertIn('expected parent %s\'s depth 2 + 1' % S2,
                      problem.message)

    def test_full_depth_and_parent(self):
        scan = good_scan()
        scan.chain.snapshots[0].depth = 2
        scan.chain.snapshots[0].parent = OTHER
        codes = sorted(p.code for p in self.problems(scan))
        self.assertIn('depth_wrong', codes)
        self.assertIn('full_with_parent', codes)

    def test_hidden_without_children(self):
        scan = good_scan()
        scan.chain.snapshots[2].hidden = True
        scan.chain.head = None
        scan.volume_image.bitmaps = []
        [problem] = self.only(self.problems(scan),
                              'hidden_without_children')
        self.assertEqual(S3, problem.snapshot)

    def test_head_hidden(self):
        scan = good_scan()
        scan.chain.head = S2
        scan.volume_image.bitmaps = [{'name': 'incsnap-%s' % S2,
                                      'flags': ['auto']}]
        self.only(self.problems(scan), 'head_not_live')

    def test_head_unknown(self):
        scan = good_scan()
        scan.chain.head = OTHER
        codes = {p.code for p in self.problems(scan)}
        self.assertIn('head_not_live', codes)

    def test_bad_kind(self):
        scan = good_scan()
        scan.chain.snapshots[0].kind = 'partial'
        self.assertIn('bad_kind', {p.code for p in self.problems(scan)})

    def test_record_file_name_not_trusted(self):
        scan = good_scan()
        scan.chain.snapshots[2].file = '../../../etc/shadow'
        problems = self.problems(scan)
        bad = [p for p in problems if p.code == 'bad_file_name']
        self.assertEqual(1, len(bad))
        self.assertIn('etc/shadow', bad[0].message)
        # The file of the record is never looked at, nor named as a path.
        self.assertFalse([p for p in problems
                          if p.file and 'shadow' in p.file])

    def test_id_not_a_uuid(self):
        scan = good_scan()
        scan.chain.snapshots[0].id = '../x'
        self.assertIn('bad_id', {p.code for p in self.problems(scan)})

    def test_journal_left(self):
        scan = good_scan()
        undo = 'revert-%s.undo.qcow2' % S3
        scan.chain.journal = {'op': 'revert', 'snapshot': S3, 'undo': undo}
        scan.entries[undo] = model.Entry(undo)
        # The journaled undo file is needed, not an orphan.
        [problem] = self.only(self.problems(scan), 'journal')
        self.assertIn(undo, problem.message)


class TestFiles(scans.CheckTestCase):

    def test_file_missing(self):
        scan = good_scan()
        del scan.entries[snap_file(S2)]
        del scan.images[snap_file(S2)]
        [problem] = self.only(self.problems(scan), 'file_missing')
        self.assertEqual((VOL, S2), (problem.volume, problem.snapshot))
        self.assertEqual('volume-%s.incsnap/%s' % (VOL, snap_file(S2)),
                         problem.file)
        self.assertIn('hidden', problem.message)

    def test_backing_not_parent(self):
        scan = good_scan()
        scan.images[snap_file(S3)].backing = snap_file(S1)
        [problem] = self.only(self.problems(scan), 'backing_wrong')
        self.assertEqual(S3, problem.snapshot)

    def test_incremental_without_backing(self):
        scan = good_scan()
        scan.images[snap_file(S3)].backing = None
        self.only(self.problems(scan), 'backing_wrong')

    def test_full_with_backing(self):
        scan = good_scan()
        scan.images[snap_file(S1)].backing = snap_file(OTHER)
        [problem] = self.only(self.problems(scan), 'full_with_backing')
        self.assertEqual(S1, problem.snapshot)

    def test_unsafe_backing_names(self):
        for name, why in (('/srv/share/volume-x.incsnap/' + snap_file(S2),
                           'is absolute'),
                          ('sub/' + snap_file(S2), 'contains "/"'),
                          ('..' + snap_file(S2), 'contains ".."')):
            scan = good_scan()
            scan.images[snap_file(S3)].backing = name
            problems = self.problems(scan)
            unsafe = [p for p in problems if p.code == 'backing_unsafe']
            self.assertEqual(1, len(unsafe), name)
            self.assertIn(why, unsafe[0].message)
            self.assertEqual({'backing_unsafe', 'backing_wrong'},
                             {p.code for p in problems})
        self.assertIsNone(layout.backing_name_problem(snap_file(S2)))

    def test_not_qcow2(self):
        scan = good_scan()
        scan.images[snap_file(S1)].format = 'raw'
        self.only(self.problems(scan), 'not_qcow2')

    def test_unreadable_image(self):
        scan = good_scan()
        scan.images[snap_file(S1)] = model.ImageFacts(
            format=None, error='Image is not in qcow2 format')
        self.only(self.problems(scan), 'unreadable_image')

    def test_qemu_img_check(self):
        scan = good_scan()
        scan.images[snap_file(S2)].check_errors = 3
        [problem] = self.only(self.problems(scan), 'qemu_img_check')
        self.assertEqual(S2, problem.snapshot)
        scan = good_scan()
        scan.volume_image.check_errors = 1
        [problem] = self.only(self.problems(scan), 'qemu_img_check')
        self.assertEqual('volume-%s' % VOL, problem.file)

    def test_leaks_are_warnings(self):
        scan = good_scan()
        scan.images[snap_file(S1)].check_leaks = 7
        self.only(self.problems(scan), 'qemu_img_leaks', model.WARNING)

    def test_symlink_in_folder(self):
        for name in ('evil', 'snapshot-%s.qcow2.part' % OTHER):
            scan = good_scan()
            scan.entries[name] = model.Entry(
                name, type=model.SYMLINK, link_target='/etc/passwd',
                age=1e6)
            # Reported once, as a symlink (never as a removable orphan).
            [problem] = self.only(self.problems(scan), 'symlink')
            self.assertIn('OUTSIDE', problem.message)
            self.assertIn('/etc/passwd', problem.message)
            self.assertTrue(problem.file.endswith('/' + name))

    def test_snapshot_file_is_symlink(self):
        scan = good_scan()
        scan.entries[snap_file(S1)] = model.Entry(
            snap_file(S1), type=model.SYMLINK, link_target='/tmp/x')
        del scan.images[snap_file(S1)]
        [problem] = self.only(self.problems(scan), 'symlink')
        self.assertEqual(S1, problem.snapshot)

    def test_folder_is_symlink(self):
        scan = good_scan()
        scan.folder.type = model.SYMLINK
        scan.folder.link_target = '/'
        [problem] = self.only(self.problems(scan), 'symlink')
        self.assertEqual('volume-%s.incsnap' % VOL, problem.file)

    def test_unexpected_name(self):
        scan = good_scan()
        scan.entries['notes.txt'] = model.Entry('notes.txt')
        self.only(self.problems(scan), 'unexpected_name', model.WARNING)


class TestVolume(scans.CheckTestCase):

    def test_bitmap_missing(self):
        scan = good_scan()
        scan.volume_image.bitmaps = []
        [problem] = self.only(self.problems(scan), 'bitmap_missing')
        self.assertEqual((VOL, S3, 'volume-%s' % VOL),
                         (problem.volume, problem.snapshot, problem.file))

    def test_bitmap_in_use(self):
        scan = good_scan()
        scan.volume_image.bitmaps[0]['flags'] = ['in-use', 'auto']
        # Maybe a VM on another host: a warning ...
        self.only(self.problems(scan), 'bitmap_in_use', model.WARNING)
        # ... inconsistent when the operator says no VM runs ...
        [problem] = self.only(self.problems(scan, offline=True),
                              'bitmap_inconsistent')
        self.assertIn('inconsistent', problem.message)
        # ... and normal when a process here has the volume open.
        scan.open_by = ['pid 42 (qemu-system-x86)']
        self.only(self.problems(scan, offline=True), 'bitmap_in_use',
                  model.INFO)

    def test_bitmap_disabled(self):
        scan = good_scan()
        scan.volume_image.bitmaps[0]['flags'] = []
        self.only(self.problems(scan), 'bitmap_disabled')

    def test_stray_bitmap(self):
        scan = good_scan()
        scan.volume_image.bitmaps.append({'name': 'incsnap-%s' % S1,
                                          'flags': ['auto']})
        [problem] = self.only(self.problems(scan), 'stray_bitmap',
                              model.WARNING)
        self.assertEqual(S1, problem.snapshot)

    def test_not_qcow2_v3(self):
        scan = good_scan()
        scan.volume_image.compat = '0.10'
        codes = {p.code: p for p in self.problems(scan)}
        self.assertEqual(model.ERROR, codes['volume_not_qcow2_v3'].severity)
        # Without a head (nothing expects a bitmap): a warning.
        scan = good_scan()
        scan.chain.head = None
        scan.volume_image = model.ImageFacts(format='raw', compat=None)
        self.only(self.problems(scan), 'volume_not_qcow2_v3',
                  model.WARNING)

    def test_volume_with_backing(self):
        scan = good_scan()
        scan.volume_image.backing = 'base.qcow2'
        self.only(self.problems(scan), 'volume_has_backing')

    def test_volume_gone(self):
        scan = good_scan()
        scan.volume = None
        scan.volume_image = None
        [problem] = self.only(self.problems(scan), 'volume_missing')
        self.assertIn(S1, problem.message)  # still lists live snapshots
