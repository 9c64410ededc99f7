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
"""incsnap-manage's rules over hand-built facts: no files, no qemu-img."""

import testtools

from incsnap_driver import chain as chain_mod
from incsnap_driver import manage_checks as checks

VOL = '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'
S1 = '11111111-1111-4111-8111-111111111111'
S2 = '22222222-2222-4222-8222-222222222222'
S3 = '33333333-3333-4333-8333-333333333333'
OTHER = '44444444-4444-4444-8444-444444444444'
MiB = 1024 ** 2


def snap_file(sid):
    return 'snapshot-%s.qcow2' % sid


def good_scan():
    """A healthy volume: s1 full, s2 incremental (hidden), s3 the head."""
    chain = chain_mod.Chain(volume_id=VOL, head=S3, snapshots=[
        chain_mod.SnapshotRecord(id=S1, file=snap_file(S1),
                                 kind=chain_mod.FULL, depth=1,
                                 reason=chain_mod.REASON_FIRST,
                                 mode='offline'),
        chain_mod.SnapshotRecord(id=S2, file=snap_file(S2),
                                 kind=chain_mod.INCREMENTAL, depth=2,
                                 parent=S1, hidden=True, mode='offline'),
        chain_mod.SnapshotRecord(id=S3, file=snap_file(S3),
                                 kind=chain_mod.INCREMENTAL, depth=3,
                                 parent=S2, mode='online'),
    ])
    entries = {'chain.json': checks.Entry('chain.json', allocated=4096)}
    for sid, size in ((S1, 8 * MiB), (S2, MiB), (S3, 2 * MiB)):
        entries[snap_file(sid)] = checks.Entry(snap_file(sid),
                                               allocated=size)
    images = {snap_file(S1): checks.ImageFacts(),
              snap_file(S2): checks.ImageFacts(backing=snap_file(S1)),
              snap_file(S3): checks.ImageFacts(backing=snap_file(S2))}
    volume_image = checks.ImageFacts(bitmaps=[
        {'name': 'incsnap-%s' % S3, 'flags': ['auto'], 'granularity': 65536},
        {'name': 'someone-elses', 'flags': []}])
    return checks.VolumeScan(
        volume_id=VOL, volume=checks.Entry('volume-%s' % VOL),
        volume_image=volume_image,
        folder=checks.Entry('volume-%s.incsnap' % VOL, type=checks.DIR),
        chain=chain, entries=entries, images=images)


class CheckTestCase(testtools.TestCase):

    def problems(self, scan, **kwargs):
        return checks.check_volume(scan, **kwargs)

    def only(self, problems, code, severity=checks.ERROR):
        """The problems of ``code``; asserts there is one and no other."""
        self.assertEqual([code], sorted({p.code for p in problems}),
                         [p.as_dict() for p in problems])
        self.assertTrue(all(p.severity == severity for p in problems),
                        [p.as_dict() for p in problems])
        return problems


class TestHealthyChain(CheckTestCase):

    def test_no_problem(self):
        self.assertEqual([], self.problems(good_scan()))
        self.assertEqual([], self.problems(good_scan(), offline=True))

    def test_empty_folder_no_problem(self):
        scan = good_scan()
        scan.chain = chain_mod.Chain(volume_id=VOL)
        scan.entries = {}
        scan.volume_image.bitmaps = []
        self.assertEqual([], self.problems(scan))

    def test_chain_rows(self):
        rows = {r['id']: r for r in checks.chain_rows(good_scan())}
        self.assertEqual((8 * MiB, 8 * MiB), (rows[S1]['own_bytes'],
                                              rows[S1]['chain_bytes']))
        self.assertEqual(9 * MiB, rows[S2]['chain_bytes'])
        self.assertEqual(11 * MiB, rows[S3]['chain_bytes'])
        self.assertTrue(rows[S2]['hidden'])
        self.assertTrue(rows[S3]['head'])
        self.assertEqual((S2, 3, 'online'), (rows[S3]['parent'],
                                             rows[S3]['depth'],
                                             rows[S3]['mode']))
        self.assertEqual('first', rows[S1]['full_reason'])

    def test_chain_rows_missing_file(self):
        scan = good_scan()
        del scan.entries[snap_file(S2)]
        rows = {r['id']: r for r in checks.chain_rows(scan)}
        self.assertFalse(rows[S2]['present'])
        self.assertIsNone(rows[S3]['chain_bytes'])
        self.assertEqual(8 * MiB, rows[S1]['chain_bytes'])


class TestDocument(CheckTestCase):

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
        scan.entries[undo] = checks.Entry(undo)
        # The journaled undo file is needed, not an orphan.
        [problem] = self.only(self.problems(scan), 'journal')
        self.assertIn(undo, problem.message)


class TestFiles(CheckTestCase):

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
        self.assertIsNone(checks.backing_problem(snap_file(S2)))

    def test_not_qcow2(self):
        scan = good_scan()
        scan.images[snap_file(S1)].format = 'raw'
        self.only(self.problems(scan), 'not_qcow2')

    def test_unreadable_image(self):
        scan = good_scan()
        scan.images[snap_file(S1)] = checks.ImageFacts(
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
        self.only(self.problems(scan), 'qemu_img_leaks', checks.WARNING)

    def test_symlink_in_folder(self):
        for name in ('evil', 'snapshot-%s.qcow2.part' % OTHER):
            scan = good_scan()
            scan.entries[name] = checks.Entry(
                name, type=checks.SYMLINK, link_target='/etc/passwd',
                age=1e6)
            # Reported once, as a symlink (never as a removable orphan).
            [problem] = self.only(self.problems(scan), 'symlink')
            self.assertIn('OUTSIDE', problem.message)
            self.assertIn('/etc/passwd', problem.message)
            self.assertTrue(problem.file.endswith('/' + name))

    def test_snapshot_file_is_symlink(self):
        scan = good_scan()
        scan.entries[snap_file(S1)] = checks.Entry(
            snap_file(S1), type=checks.SYMLINK, link_target='/tmp/x')
        del scan.images[snap_file(S1)]
        [problem] = self.only(self.problems(scan), 'symlink')
        self.assertEqual(S1, problem.snapshot)

    def test_folder_is_symlink(self):
        scan = good_scan()
        scan.folder.type = checks.SYMLINK
        scan.folder.link_target = '/'
        [problem] = self.only(self.problems(scan), 'symlink')
        self.assertEqual('volume-%s.incsnap' % VOL, problem.file)

    def test_unexpected_name(self):
        scan = good_scan()
        scan.entries['notes.txt'] = checks.Entry('notes.txt')
        self.only(self.problems(scan), 'unexpected_name', checks.WARNING)


class TestVolume(CheckTestCase):

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
        self.only(self.problems(scan), 'bitmap_in_use', checks.WARNING)
        # ... inconsistent when the operator says no VM runs ...
        [problem] = self.only(self.problems(scan, offline=True),
                              'bitmap_inconsistent')
        self.assertIn('inconsistent', problem.message)
        # ... and normal when a process here has the volume open.
        scan.open_by = ['pid 42 (qemu-system-x86)']
        self.only(self.problems(scan, offline=True), 'bitmap_in_use',
                  checks.INFO)

    def test_bitmap_disabled(self):
        scan = good_scan()
        scan.volume_image.bitmaps[0]['flags'] = []
        self.only(self.problems(scan), 'bitmap_disabled')

    def test_stray_bitmap(self):
        scan = good_scan()
        scan.volume_image.bitmaps.append({'name': 'incsnap-%s' % S1,
                                          'flags': ['auto']})
        [problem] = self.only(self.problems(scan), 'stray_bitmap',
                              checks.WARNING)
        self.assertEqual(S1, problem.snapshot)

    def test_not_qcow2_v3(self):
        scan = good_scan()
        scan.volume_image.compat = '0.10'
        codes = {p.code: p for p in self.problems(scan)}
        self.assertEqual(checks.ERROR, codes['volume_not_qcow2_v3'].severity)
        # Without a head (nothing expects a bitmap): a warning.
        scan = good_scan()
        scan.chain.head = None
        scan.volume_image = checks.ImageFacts(format='raw', compat=None)
        self.only(self.problems(scan), 'volume_not_qcow2_v3',
                  checks.WARNING)

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


class TestOrphans(CheckTestCase):

    def scan_with_strays(self, age=1e6):
        scan = good_scan()
        names = ['snapshot-%s.qcow2.part' % OTHER,
                 'revert-%s.undo.qcow2' % S3,
                 '.chain.k2j_3x.tmp',
                 snap_file(OTHER)]
        for name in names:
            scan.entries[name] = checks.Entry(name, age=age)
        return scan, names

    def test_orphans_found(self):
        scan, names = self.scan_with_strays()
        orphans = checks.find_orphans(scan)
        self.assertEqual(sorted('volume-%s.incsnap/%s' % (VOL, n)
                                for n in names),
                         sorted(o.path for o in orphans))
        problems = self.only(self.problems(scan), 'orphan')
        self.assertEqual(4, len(problems))

    def test_recent_orphans_are_warnings(self):
        scan, _names = self.scan_with_strays(age=5)
        self.only(self.problems(scan, min_age=600), 'orphan_recent',
                  checks.WARNING)
        self.only(self.problems(scan, min_age=0), 'orphan')

    def test_share_level(self):
        entries = [checks.Entry('volume-%s' % VOL),
                   checks.Entry('volume-%s.incsnap' % VOL, type=checks.DIR),
                   checks.Entry('volume-%s.revert.part' % VOL),
                   checks.Entry('volume-%s.part' % OTHER),
                   checks.Entry('volume-%s.info' % VOL),
                   checks.Entry('volume-NOT-A-UUID'),
                   checks.Entry('lost+found', type=checks.DIR)]
        listing = checks.classify_share(entries)
        self.assertEqual([VOL], list(listing.volumes))
        self.assertEqual([VOL], list(listing.folders))
        self.assertEqual(['volume-%s.revert.part' % VOL,
                          'volume-%s.part' % OTHER],
                         [e.name for e in listing.parts])
        self.assertEqual(['volume-NOT-A-UUID'],
                         [e.name for e in listing.ignored])
        problems = checks.share_problems(listing)
        self.assertEqual(['orphan', 'orphan', 'ignored_name'],
                         [p.code for p in problems])
        self.assertEqual(checks.INFO, problems[2].severity)


class TestGcPlan(CheckTestCase):

    def listing(self, *extra):
        return checks.classify_share(
            [checks.Entry('volume-%s' % VOL),
             checks.Entry('volume-%s.incsnap' % VOL, type=checks.DIR)] +
            list(extra))

    def test_removes_orphans_only(self):
        scan = good_scan()
        scan.entries['.chain.abc.tmp'] = checks.Entry('.chain.abc.tmp')
        top = checks.Entry('volume-%s.revert.part' % VOL)
        removable, refused = checks.gc_plan(self.listing(top), [scan])
        self.assertEqual(['volume-%s.revert.part' % VOL,
                          'volume-%s.incsnap/.chain.abc.tmp' % VOL],
                         [o.path for o in removable])
        self.assertEqual([], refused)

    def test_healthy_nothing(self):
        self.assertEqual(([], []),
                         checks.gc_plan(self.listing(), [good_scan()]))

    def test_refuses_unreadable_document(self):
        scan = good_scan()
        scan.chain = None
        scan.chain_error = 'unreadable'
        scan.entries['x.part'] = checks.Entry('snapshot-%s.qcow2.part'
                                              % OTHER)
        removable, refused = checks.gc_plan(self.listing(), [scan])
        self.assertEqual([], removable)
        self.assertEqual(['chain_unreadable'], [p.code for p in refused])

    def test_refuses_symlinks_and_recent(self):
        scan = good_scan()
        link = 'snapshot-%s.qcow2.part' % OTHER
        scan.entries[link] = checks.Entry(link, type=checks.SYMLINK,
                                          link_target='/etc/passwd')
        young = 'revert-%s.undo.qcow2' % S3
        scan.entries[young] = checks.Entry(young, age=10)
        removable, refused = checks.gc_plan(self.listing(), [scan],
                                            min_age=600)
        self.assertEqual([], removable)
        codes = sorted(p.code for p in refused)
        self.assertEqual(['orphan_recent', 'symlink'], codes)

    def test_folder_of_gone_volume(self):
        scan = good_scan()
        scan.volume = None
        for record in scan.chain.snapshots:
            record.hidden = True
        listing = checks.classify_share(
            [checks.Entry('volume-%s.incsnap' % VOL, type=checks.DIR)])
        removable, refused = checks.gc_plan(listing, [scan])
        self.assertEqual(['volume-%s.incsnap' % VOL],
                         [o.path for o in removable])
        self.assertTrue(removable[0].is_folder)
        # With a live snapshot in its document: damage, not garbage.
        scan.chain.snapshots[0].hidden = False
        removable, refused = checks.gc_plan(listing, [scan])
        self.assertEqual([], removable)
        self.assertEqual(['volume_missing'], [p.code for p in refused])
        # A name the driver does not write in it: refused too.
        scan.chain.snapshots[0].hidden = True
        scan.entries['photo.jpg'] = checks.Entry('photo.jpg')
        removable, refused = checks.gc_plan(listing, [scan])
        self.assertEqual([], removable)
        self.assertIn('photo.jpg', refused[0].message)


class TestOutput(testtools.TestCase):

    def test_hostile_names_cannot_forge_lines(self):
        from incsnap_driver import manage
        problem = checks.Problem(
            checks.WARNING, 'unexpected_name', 'ignored', volume=VOL,
            file='volume-%s.incsnap/x\nERROR   forged\x1b[2J' % VOL)
        line = manage.format_problem(problem)
        self.assertEqual(1, len(line.splitlines()))
        self.assertIn('x\\nERROR   forged\\x1b[2J', line)
