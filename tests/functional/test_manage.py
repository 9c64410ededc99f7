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
"""incsnap-manage on chains the real driver built, damaged from outside.

The tool runs as a separate process (``python -m incsnap_driver.manage``),
as an operator would run it: on the share directly (``--share-dir``) or
finding the share from a cinder.conf written here.
"""

import json
import os
import subprocess
import sys
import time
import uuid

from tests.functional import base

MiB = base.MiB
OLD = 3600 * 24  # seconds: a leftover from yesterday's crash
DRIVER = 'incsnap_driver.driver.IncrementalSnapshotNfsDriver'


class ManageTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.volume = self.create_volume()
        self.snaps = []
        self.refs = []
        for step in range(3):
            self.write(self.volume, step * 4 * MiB, 2 * MiB, 0x30 + step)
            self.refs.append(self.reference(self.volume, 's%d' % step))
            self.snaps.append(self.create_snapshot(self.volume))
        # s2 goes but its file stays, hidden: s3 depends on it.
        self.delete_snapshot(self.snaps[1])
        self.s1, self.s2, self.s3 = self.snaps
        self.folder = self.snap_dir(self.volume)
        self.vol_rel = 'volume-%s' % self.volume.id

    def manage(self, *args, config=None):
        cmd = [sys.executable, '-m', 'incsnap_driver.manage']
        if config:
            cmd += ['--config-file', config]
        else:
            cmd += ['--share-dir', self.mount_point]
        cmd += list(args)
        env = dict(os.environ, PYTHONPATH=base.REPO)
        return subprocess.run(cmd, capture_output=True, text=True,
                              cwd=base.REPO, env=env, timeout=300)

    def assertExit(self, code, result):
        self.assertEqual(code, result.returncode,
                         'stdout:\n%s\nstderr:\n%s' % (result.stdout,
                                                       result.stderr))

    def problem_lines(self, result, code):
        return [line for line in result.stdout.splitlines()
                if line.endswith('[%s]' % code)]

    def assertProblem(self, result, code, *words):
        lines = self.problem_lines(result, code)
        self.assertTrue(lines, 'no [%s] line in:\n%s' % (code,
                                                         result.stdout))
        for word in words:
            self.assertTrue(any(word in line for line in lines),
                            '%r not in %s' % (word, lines))

    def snap_rel(self, snap):
        return '%s.incsnap/snapshot-%s.qcow2' % (self.vol_rel, snap.id)

    def age(self, path, seconds=OLD):
        st = os.lstat(path)
        os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds),
                 follow_symlinks=False)

    def assertChainIntact(self):
        """The live snapshots still read as the volume did."""
        self.assertSameContent(self.refs[0], self.snap_path(self.volume,
                                                            self.s1))
        self.assertSameContent(self.refs[2], self.snap_path(self.volume,
                                                            self.s3))
        self.assertSameContent(self.refs[2], self.volume_path(self.volume))


class TestHealthy(ManageTestCase):

    def test_chains_table_and_json(self):
        result = self.manage('chains')
        self.assertExit(0, result)
        out = result.stdout
        self.assertIn('volume %s  head %s' % (self.volume.id, self.s3.id),
                      out)
        lines = {line.split()[0]: line.split() for line in out.splitlines()
                 if line.startswith('  ') and line.split()[0] in
                 (self.s1.id, self.s2.id, self.s3.id)}
        self.assertEqual(['full', '-', '1', 'no'], lines[self.s1.id][1:5])
        self.assertEqual(['incremental', self.s1.id, '2', 'yes'],
                         lines[self.s2.id][1:5])
        # The head is starred.
        self.assertEqual(['*', 'incremental', self.s2.id, '3', 'no'],
                         lines[self.s3.id][1:6])
        self.assertIn('first', lines[self.s1.id])
        self.assertIn('offline', lines[self.s3.id])

        result = self.manage('chains', '--json')
        self.assertExit(0, result)
        report = json.loads(result.stdout)
        volume = report[0]['volumes'][0]
        self.assertEqual(self.volume.id, volume['volume'])
        rows = {r['id']: r for r in volume['snapshots']}
        self.assertTrue(rows[self.s2.id]['hidden'])
        self.assertFalse(rows[self.s3.id]['hidden'])
        self.assertEqual(self.s2.id, rows[self.s3.id]['parent'])
        self.assertEqual([1, 2, 3], [rows[s.id]['depth'] for s in self.snaps])
        for snap in self.snaps:
            st = os.stat(self.snap_path(self.volume, snap))
            self.assertEqual(st.st_blocks * 512, rows[snap.id]['own_bytes'])
        # 2 MiB written per step: the full holds 2 MiB, each incremental
        # about 2 MiB; the chain size adds up the ancestors.
        self.assertGreaterEqual(rows[self.s1.id]['own_bytes'], 2 * MiB)
        self.assertEqual(sum(rows[s.id]['own_bytes'] for s in self.snaps),
                         rows[self.s3.id]['chain_bytes'])
        self.assertEqual('first', rows[self.s1.id]['full_reason'])
        self.assertEqual('offline', rows[self.s1.id]['mode'])

    def test_verify_healthy(self):
        for args in (('verify',), ('verify', '--offline')):
            result = self.manage(*args)
            self.assertExit(0, result)
            self.assertIn('1 volume(s) with snapshots checked: 0 error(s), '
                          '0 warning(s)', result.stdout)
        result = self.manage('verify', '--json')
        self.assertExit(0, result)
        report = json.loads(result.stdout)
        self.assertTrue(report['ok'])
        self.assertEqual([], report['shares'][0]['problems'])
        result = self.manage('gc')
        self.assertExit(0, result)
        self.assertIn('no orphans', result.stdout)


class TestConfigFile(ManageTestCase):

    def write_conf(self, backends, sections, shares_config=None):
        if shares_config is None:
            shares_config = os.path.join(self.ref_dir, 'nfs_shares')
            with open(shares_config, 'w') as f:
                # A comment and a share with mount options, as operators
                # write them; the driver's own parser reads the file.
                f.write('# incsnap shares\n%s -o vers=4.1\n' % self.share)
        path = os.path.join(self.ref_dir, 'cinder.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\nenabled_backends = %s\nstate_path = %s\n'
                    % (','.join(backends), self.root))
            for name, driver in sections.items():
                f.write('\n[%s]\nvolume_driver = %s\n' % (name, driver))
                if driver == DRIVER:
                    f.write('nfs_shares_config = %s\n'
                            'nfs_mount_point_base = %s\n'
                            % (shares_config, self.mount_base))
        return path

    def test_shares_found_from_cinder_conf(self):
        lvm = 'cinder.volume.drivers.lvm.LVMVolumeDriver'
        conf = self.write_conf(['lvm-1', 'incsnap-1'],
                               {'lvm-1': lvm, 'incsnap-1': DRIVER})
        result = self.manage('verify', config=conf)
        self.assertExit(0, result)
        self.assertIn('share %s (%s, backend incsnap-1)'
                      % (self.mount_point, self.share), result.stdout)
        self.assertIn('1 volume(s) with snapshots checked', result.stdout)

        result = self.manage('--backend', 'incsnap-1', 'chains', '--json',
                             config=conf)
        self.assertExit(0, result)
        volumes = json.loads(result.stdout)[0]['volumes']
        self.assertEqual([self.volume.id], [v['volume'] for v in volumes])

        # Damage is found through the configured share too.
        os.unlink(self.snap_path(self.volume, self.s3))
        result = self.manage('verify', config=conf)
        self.assertExit(1, result)
        self.assertProblem(result, 'file_missing', self.s3.id)

        # A backend that is not ours, named explicitly: a usage error.
        result = self.manage('--backend', 'lvm-1', 'verify', config=conf)
        self.assertExit(2, result)
        self.assertIn('--backend lvm-1: its volume_driver is %s' % lvm,
                      result.stderr)

    def test_config_errors_exit_2(self):
        missing = os.path.join(self.ref_dir, 'no-such-shares')
        conf = self.write_conf(['incsnap-1'], {'incsnap-1': DRIVER},
                               shares_config=missing)
        result = self.manage('verify', config=conf)
        self.assertExit(2, result)
        self.assertIn('nfs_shares_config: file %s does not exist' % missing,
                      result.stderr)

        result = self.manage('verify',
                             config=os.path.join(self.ref_dir, 'nope.conf'))
        self.assertExit(2, result)
        self.assertIn('nope.conf', result.stderr)

        result = self.manage()  # no command
        self.assertExit(2, result)

        conf = self.write_conf(['lvm-1'], {
            'lvm-1': 'cinder.volume.drivers.lvm.LVMVolumeDriver'})
        result = self.manage('chains', config=conf)
        self.assertExit(2, result)
        self.assertIn('no backend in enabled_backends (lvm-1) has '
                      'volume_driver = %s' % DRIVER, result.stderr)


class TestDamage(ManageTestCase):

    def test_chain_document_corrupted(self):
        doc = os.path.join(self.folder, 'chain.json')
        with open(doc, 'w') as f:
            f.write('{"version": 1, "volume_id": ')
        result = self.manage('verify')
        self.assertExit(1, result)
        self.assertProblem(result, 'chain_unreadable', self.volume.id,
                           '%s.incsnap/chain.json' % self.vol_rel, 'not JSON')
        # gc refuses to touch the volume, even a stray file of it.
        part = os.path.join(self.folder, 'snapshot-%s.qcow2.part'
                            % uuid.uuid4())
        open(part, 'w').close()
        self.age(part)
        result = self.manage('gc', '--delete', '--min-age', '0')
        self.assertExit(1, result)
        self.assertProblem(result, 'chain_unreadable', 'left untouched')
        self.assertTrue(os.path.exists(part))
        self.assertChainIntact()

    def test_snapshot_file_removed(self):
        os.unlink(self.snap_path(self.volume, self.s2))
        result = self.manage('verify')
        self.assertExit(1, result)
        self.assertProblem(result, 'file_missing', self.volume.id,
                           self.s2.id, self.snap_rel(self.s2), 'hidden')

    def test_bitmap_removed_by_hand(self):
        base.sh('qemu-img', 'bitmap', '--remove', self.volume_path(
            self.volume), 'incsnap-%s' % self.s3.id)
        result = self.manage('verify')
        self.assertExit(1, result)
        self.assertProblem(result, 'bitmap_missing', self.volume.id,
                           self.s3.id, 'file %s:' % self.vol_rel)

    def test_backing_rewritten_absolute(self):
        s3_path = self.snap_path(self.volume, self.s3)
        s2_path = self.snap_path(self.volume, self.s2)
        base.sh('qemu-img', 'rebase', '-u', '-F', 'qcow2', '-b', s2_path,
                s3_path)
        result = self.manage('verify')
        self.assertExit(1, result)
        self.assertProblem(result, 'backing_unsafe', self.volume.id,
                           self.s3.id, self.snap_rel(self.s3), 'is absolute')
        self.assertProblem(result, 'backing_wrong', self.s3.id)

    def test_bitmap_left_in_use(self):
        # A QEMU that dies leaves its bitmaps flagged in-use: emulate with
        # a storage daemon killed while it has the volume open. It opens
        # the volume through another path to the same file (as a VM does
        # through Nova's own mount of the share).
        volume_path = os.path.join(self.export, self.vol_rel)
        sock = os.path.join(self.ref_dir, 'qsd.sock')
        proc = subprocess.Popen(
            ['qemu-storage-daemon', '--blockdev',
             'driver=file,node-name=f,filename=%s' % volume_path,
             '--blockdev', 'driver=qcow2,node-name=q,file=f',
             '--chardev', 'socket,id=m,path=%s,server=on,wait=off' % sock,
             '--monitor', 'chardev=m'])
        self.addCleanup(proc.kill)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        # While the daemon runs, in-use is normal: it has the volume open.
        result = self.manage('verify', '--offline')
        self.assertExit(0, result)
        proc.kill()
        proc.wait()
        # Nobody has it open now: a warning, and an error with --offline.
        result = self.manage('verify')
        self.assertExit(0, result)
        self.assertProblem(result, 'bitmap_in_use', self.volume.id,
                           self.s3.id)
        result = self.manage('verify', '--offline')
        self.assertExit(1, result)
        self.assertProblem(result, 'bitmap_inconsistent', self.volume.id,
                           self.s3.id, 'file %s:' % self.vol_rel)


class TestGarbage(ManageTestCase):

    def make_strays(self):
        stray_id = str(uuid.uuid4())
        names = ['snapshot-%s.qcow2.part' % stray_id,
                 'revert-%s.undo.qcow2' % self.s3.id,
                 '.chain.abc_123.tmp']
        for name in names:
            with open(os.path.join(self.folder, name), 'wb') as f:
                f.write(b'x' * 4096)
        # A snapshot file the document does not know (a crash between the
        # copy's rename and the document's write).
        unknown = 'snapshot-%s.qcow2' % uuid.uuid4()
        base.sh('qemu-img', 'create', '-q', '-f', 'qcow2',
                os.path.join(self.folder, unknown), '1M')
        names.append(unknown)
        rels = ['%s.incsnap/%s' % (self.vol_rel, n) for n in names]
        top = '%s.revert.part' % self.vol_rel
        open(os.path.join(self.mount_point, top), 'w').close()
        rels.append(top)
        # The folder of a volume deleted without its snapshot folder.
        gone = 'volume-%s.incsnap' % uuid.uuid4()
        os.mkdir(os.path.join(self.mount_point, gone))
        with open(os.path.join(self.mount_point, gone, 'chain.json'),
                  'w') as f:
            json.dump({'version': 1, 'volume_id': gone[7:-8],
                       'snapshots': [], 'head': None}, f)
        rels.append(gone)
        for rel in rels:
            self.age(os.path.join(self.mount_point, rel))
        return rels

    def test_verify_and_gc(self):
        strays = self.make_strays()
        result = self.manage('verify')
        self.assertExit(1, result)
        for rel in strays[:-1]:
            self.assertIn('file %s: ' % rel, result.stdout)
        self.assertProblem(result, 'orphan', self.volume.id,
                           'revert-%s.undo.qcow2' % self.s3.id)
        self.assertProblem(result, 'volume_missing', strays[-1])

        before = sorted(self.share_files())
        result = self.manage('gc')
        self.assertExit(0, result)
        for rel in strays:
            self.assertIn('orphan  %s  (' % rel, result.stdout)
        self.assertIn('%d orphan(s)' % len(strays), result.stdout)
        self.assertEqual(before, sorted(self.share_files()))

        result = self.manage('gc', '--delete')
        self.assertExit(0, result)
        for rel in strays:
            self.assertIn('removed %s  (' % rel, result.stdout)
            self.assertFalse(os.path.lexists(
                os.path.join(self.mount_point, rel)), rel)
        self.assertEqual(
            sorted([self.vol_rel, '%s.incsnap/chain.json' % self.vol_rel] +
                   [self.snap_rel(s) for s in self.snaps]),
            sorted(self.share_files()))
        self.assertChainIntact()
        self.assertExit(0, self.manage('verify', '--offline'))

    def test_recent_leftovers_are_left_alone(self):
        part = os.path.join(self.folder, 'snapshot-%s.qcow2.part'
                            % uuid.uuid4())
        open(part, 'w').close()
        # Maybe a copy in progress: a warning for verify, kept by gc.
        result = self.manage('verify')
        self.assertExit(0, result)
        self.assertProblem(result, 'orphan_recent', 'may still be running')
        result = self.manage('gc', '--delete')
        self.assertExit(0, result)
        self.assertTrue(os.path.exists(part))
        result = self.manage('gc', '--delete', '--min-age', '0')
        self.assertExit(0, result)
        self.assertFalse(os.path.exists(part))

    def test_symlink_pointing_outside(self):
        victim = os.path.join(self.ref_dir, 'victim')
        with open(victim, 'w') as f:
            f.write('precious')
        names = ['snapshot-%s.qcow2.part' % uuid.uuid4(), 'evil']
        for name in names:
            os.symlink(victim, os.path.join(self.folder, name))
            self.age(os.path.join(self.folder, name))
        # A snapshot folder that is itself a symlink out of the share.
        outside_dir = os.path.join(self.ref_dir, 'elsewhere')
        os.mkdir(outside_dir)
        with open(os.path.join(outside_dir, 'chain.json'), 'w') as f:
            f.write('{}')
        link_folder = 'volume-%s.incsnap' % uuid.uuid4()
        os.symlink(outside_dir, os.path.join(self.mount_point, link_folder))

        result = self.manage('verify')
        self.assertExit(1, result)
        for name in names:
            self.assertProblem(result, 'symlink', '%s.incsnap/%s'
                               % (self.vol_rel, name), 'OUTSIDE')
        self.assertProblem(result, 'symlink', link_folder)

        for args in (('gc',), ('gc', '--delete', '--min-age', '0')):
            result = self.manage(*args)
            self.assertExit(1, result)
            self.assertProblem(result, 'symlink', names[0], names[1],
                               link_folder)
            self.assertNotIn('removed', result.stdout)
        for name in names:
            self.assertTrue(os.path.islink(os.path.join(self.folder, name)))
        with open(victim) as f:
            self.assertEqual('precious', f.read())
        self.assertEqual(['chain.json'], os.listdir(outside_dir))
        self.assertChainIntact()


class TestStuck(ManageTestCase):
    """``stuck`` reads Cinder's database (the test's, migrated by Cinder)."""

    def stuck_conf(self, connection=None):
        from oslo_config import cfg
        path = os.path.join(self.ref_dir, 'stuck-cinder.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\nhost = incsnap-test\nenabled_backends = %s\n'
                    'state_path = %s\n\n[database]\nconnection = %s\n\n'
                    '[%s]\nvolume_driver = %s\n'
                    % (self.backend, self.root,
                       connection or cfg.CONF.database.connection,
                       self.backend, DRIVER))
        return path

    def test_stuck_resources_with_the_calls_that_settle_them(self):
        self.volume.status = 'reverting'
        self.volume.save()
        self.s3.status = 'restoring'
        self.s3.save()
        conf = self.stuck_conf()
        result = self.manage('stuck', '--min-age', '0', config=conf)
        self.assertExit(1, result)
        self.assertIn('hosts incsnap-test@%s\n' % self.backend, result.stdout,
                      result.stderr)
        self.assertProblem(result, 'stuck', 'volume %s: volume reverting '
                           'for' % self.volume.id, 'openstack volume set '
                           '--state available %s' % self.volume.id)
        self.assertProblem(result, 'stuck', 'volume %s snapshot %s: '
                           'snapshot restoring for' % (self.volume.id,
                                                       self.s3.id),
                           'openstack volume snapshot set --state available '
                           '%s' % self.s3.id)
        self.assertIn('2 resource(s) stuck, 0 recently changed',
                      result.stdout)
        # Just changed: it may still be in progress.
        result = self.manage('stuck', '--json', config=conf)
        self.assertExit(0, result)
        found = json.loads(result.stdout)
        self.assertTrue(found['ok'])
        self.assertEqual(['stuck_recent', 'stuck_recent'],
                         [p['code'] for p in found['problems']])
        # Settled: nothing to list.
        self.volume.status = 'available'
        self.volume.save()
        self.s3.status = 'available'
        self.s3.save()
        result = self.manage('stuck', '--min-age', '0', config=conf)
        self.assertExit(0, result)
        self.assertIn('0 resource(s) stuck', result.stdout)

    def test_database_that_cannot_be_read(self):
        conf = self.stuck_conf(
            'sqlite:///%s' % os.path.join(self.ref_dir, 'no', 'such.db'))
        result = self.manage('stuck', config=conf)
        self.assertExit(2, result)
        self.assertIn("cannot read Cinder's database ([database] connection "
                      "in %s)" % conf, result.stderr)
