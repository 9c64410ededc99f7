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
"""A share that runs full; operations racing on one volume or many."""

import os
import threading
import time

from cinder import exception

from tests.functional import base

MiB = base.MiB


class ShareRunsFull(base.FunctionalTestCase):
    """The export is a 100 MiB tmpfs standing in for a full NFS server."""

    export_size = 100 * MiB

    def test_snapshot_on_full_share(self):
        volume = self.create_volume()
        self.write(volume, 0, 30 * MiB, 0x10)
        s1 = self.create_snapshot(volume)
        ref1 = self.reference(volume, 's1')
        # Ballast that the operator can remove later.
        ballast = os.path.join(self.export, 'ballast')
        base.sh('dd', 'if=/dev/zero', 'of=%s' % ballast, 'bs=1M',
                'count=20', 'status=none')
        self.write(volume, 32 * MiB, 14 * MiB, 0x20)
        ref_now = self.reference(volume, 'now')
        free = os.statvfs(self.export)
        self.assertLess(free.f_bavail * free.f_frsize, 14 * MiB)
        snap = self.new_snapshot(volume)
        exc = self.assertRaises(exception.VolumeBackendAPIException,
                                self.driver.create_snapshot, snap)
        self.assertIn(snap.id, str(exc))
        # Refused before anything was written, saying how much is needed.
        self.assertIn('not enough free space', str(exc))
        self.assertIn('MiB are free', str(exc))
        # Nothing partial, volume and s1 intact, bitmap still whole.
        self.assertEqual(sorted(['chain.json',
                                 'snapshot-%s.qcow2' % s1.id]),
                         self.files_in(self.snap_dir(volume)))
        self.assertSameContent(ref_now, self.volume_path(volume))
        self.assertSameContent(ref1, self.snap_path(volume, s1))
        self.assertEqual(['incsnap-%s' % s1.id], self.bitmap_names(volume))
        # Space freed: the next snapshot is still incremental, and right.
        os.unlink(ballast)
        s2 = self.create_snapshot(volume)
        self.assertEqual('incremental', s2.metadata['incsnap:kind'])
        self.assertSameContent(ref_now, self.snap_path(volume, s2))


class ShareRunsFullMidCopy(base.FunctionalTestCase):
    """Space taken by someone else while the copy runs."""

    export_size = 100 * MiB
    backend_options = {'volume_copy_bps_limit': 8 * MiB}

    def test_space_runs_out_mid_copy(self):
        volume = self.create_volume()
        self.write(volume, 0, 20 * MiB, 0x10)
        s1 = self.create_snapshot(volume)
        self.write(volume, 24 * MiB, 24 * MiB, 0x20)
        ref_now = self.reference(volume, 'now')
        snap = self.new_snapshot(volume)
        part = os.path.join(self.snap_dir(volume),
                            'snapshot-%s.qcow2.part' % snap.id)
        ballast = os.path.join(self.export, 'ballast')
        outcome = {}

        def take():
            try:
                self.driver.create_snapshot(snap)
            except Exception as exc:
                outcome['error'] = exc

        thread = threading.Thread(target=take)
        thread.start()
        deadline = time.monotonic() + 30
        while not (os.path.exists(part) and
                   os.stat(part).st_blocks * 512 > 2 * MiB):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        # Fill the share (dd stops at ENOSPC).
        base.sh('dd', 'if=/dev/zero', 'of=%s' % ballast, 'bs=1M',
                'status=none', check=False)
        thread.join(120)
        self.assertIsInstance(outcome.get('error'),
                              exception.VolumeBackendAPIException)
        self.assertIn('No space left', str(outcome['error']))
        self.assertFalse(os.path.exists(part))
        self.assertSameContent(ref_now, self.volume_path(volume))
        os.unlink(ballast)
        # The volume's bitmap was written back whole: still incremental.
        self.assertEqual(['incsnap-%s' % s1.id], self.bitmap_names(volume))
        s2 = self.create_snapshot(volume)
        self.assertEqual('incremental', s2.metadata['incsnap:kind'])
        self.assertSameContent(ref_now, self.snap_path(volume, s2))


class Concurrency(base.FunctionalTestCase):

    backend_options = {'volume_copy_bps_limit': 16 * MiB}

    def run_threads(self, calls):
        """Run (name, func, args) at once; return {name: (start, end, err)}."""
        results = {}
        barrier = threading.Barrier(len(calls))

        def target(name, func, args):
            barrier.wait()
            start = time.monotonic()
            err = None
            try:
                func(*args)
            except Exception as exc:
                err = exc
            results[name] = (start, time.monotonic(), err)

        threads = [threading.Thread(target=target, args=call)
                   for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        for name, (_s, _e, err) in results.items():
            self.assertIsNone(err, '%s failed: %s' % (name, err))
        return results

    def test_operations_on_one_volume_are_serialized(self):
        volume = self.create_volume()
        self.write(volume, 0, 16 * MiB, 0x31)
        ref1 = self.reference(volume, 's1')
        s1 = self.create_snapshot(volume)
        self.write(volume, 16 * MiB, 16 * MiB, 0x32)
        ref2 = self.reference(volume, 's2')
        s2 = self.create_snapshot(volume)
        self.write(volume, 32 * MiB, 16 * MiB, 0x33)
        ref3 = self.reference(volume, 's3')
        s3 = self.new_snapshot(volume)
        from cinder import objects
        new = objects.Volume(
            context=self.ctx, size=1, status='creating', host=volume.host,
            availability_zone='nova', volume_type_id=volume.volume_type_id,
            project_id='p', user_id='u')
        new.create()
        # A snapshot (1 s of copying at the limit), the delete of s1 (s2
        # depends on it: hidden) and a volume from s2, all at once.
        results = self.run_threads([
            ('snapshot', self.driver.create_snapshot, (s3,)),
            ('delete', self.driver.delete_snapshot, (s1,)),
            ('from-snapshot', self.driver.create_volume_from_snapshot,
             (new, s2)),
        ])
        self.addCleanup(self.driver.delete_volume, new)
        spans = sorted(results.values())
        for (_s1, end1, _e1), (start2, _e2, _x) in zip(spans, spans[1:]):
            self.assertLessEqual(end1, start2 + 30)
        # Each ended right.
        self.assertTrue(os.path.exists(self.snap_path(volume, s1)))
        self.assertSameContent(ref1, self.snap_path(volume, s1))
        self.assertSameContent(ref2, self.volume_path(new))
        self.assertSameContent(ref3, self.snap_path(volume, s3))
        with open(os.path.join(self.snap_dir(volume), 'chain.json')) as f:
            doc = f.read()
        self.assertIn('"hidden": true', doc)
        self.assertIn(s3.id, doc)

    def test_volumes_run_in_parallel(self):
        volumes = [self.create_volume() for _ in range(2)]
        refs = []
        for i, volume in enumerate(volumes):
            self.write(volume, 0, 32 * MiB, 0x40 + i)
            refs.append(self.reference(volume, 'now'))
        snaps = [self.new_snapshot(v) for v in volumes]
        results = self.run_threads([
            ('a', self.driver.create_snapshot, (snaps[0],)),
            ('b', self.driver.create_snapshot, (snaps[1],)),
        ])
        (a_start, a_end, _), (b_start, b_end, _) = results['a'], results['b']
        # 32 MiB at 16 MiB/s is ~2 s each: they overlapped.
        overlap = min(a_end, b_end) - max(a_start, b_start)
        self.assertGreater(overlap, 1.0, results)
        for volume, snap, ref in zip(volumes, snaps, refs):
            self.assertSameContent(ref, self.snap_path(volume, snap))
