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
"""When the dashboard offers a revert (incsnap_dashboard.rules)."""

import testtools

from incsnap_dashboard import rules

VOL = rules.Volume(id='v1', status='available', size=1, name='data')


def snap(sid, created, status='available', size=1, volume_id='v1'):
    return rules.Snapshot(id=sid, volume_id=volume_id, status=status,
                          size=size, created_at=created, name='n-' + sid)


S1 = snap('s1', '2026-12-03T10:00:00.000000')
S2 = snap('s2', '2026-12-03T10:05:00.000000')


class RefusalTest(testtools.TestCase):

    def test_newest_snapshot_of_an_available_volume_is_allowed(self):
        self.assertIsNone(rules.refusal(VOL, S2, [S1, S2]))
        self.assertIsNone(rules.refusal(VOL, S1, [S1]))

    def test_an_older_snapshot_is_refused_naming_the_newest(self):
        why = rules.refusal(VOL, S1, [S2, S1])
        self.assertIn('Only the newest snapshot', why)
        self.assertIn('n-s2', why)

    def test_newest_counts_every_status_as_cinder_does(self):
        # Cinder's latest snapshot is the last created, even a failed one.
        failed = snap('s3', '2026-12-03T10:09:00.000000', status='error')
        why = rules.refusal(VOL, S2, [S1, S2, failed])
        self.assertIn('n-s3', why)

    def test_volume_not_available(self):
        for status in ('in-use', 'reverting', 'error', 'extending'):
            vol = rules.Volume(id='v1', status=status, size=1)
            why = rules.refusal(vol, S2, [S1, S2])
            self.assertIn('The volume is %s' % status, why)
            self.assertIn('available', why)

    def test_snapshot_not_available(self):
        creating = snap('s3', '2026-12-03T10:09:00.000000',
                        status='creating')
        why = rules.refusal(VOL, creating, [S1, S2, creating])
        self.assertIn('is creating', why)

    def test_volume_extended_since(self):
        vol = rules.Volume(id='v1', status='available', size=2)
        why = rules.refusal(vol, S2, [S1, S2])
        self.assertIn('2 GiB', why)
        self.assertIn('1 GiB', why)

    def test_snapshots_of_other_volumes_do_not_count(self):
        other = snap('x9', '2026-12-03T11:00:00.000000', volume_id='v2')
        self.assertIsNone(rules.refusal(VOL, S2, [S1, S2, other]))
        self.assertIn('not a snapshot of volume',
                      rules.refusal(VOL, other, [other]))

    def test_no_volume(self):
        self.assertIn('not visible', rules.refusal(None, S2, [S2]))

    def test_the_first_reason_is_the_one_shown(self):
        # Older and volume in-use: the older snapshot is what to fix first
        # (detaching would not help).
        vol = rules.Volume(id='v1', status='in-use', size=1)
        self.assertIn('Only the newest', rules.refusal(vol, S1, [S1, S2]))


class NewestTest(testtools.TestCase):

    def test_by_creation_time(self):
        self.assertEqual(S2, rules.newest([S2, S1]))
        self.assertIsNone(rules.newest([]))

    def test_same_second_is_a_stable_choice(self):
        a = snap('a', '2026-12-03T10:00:00')
        b = snap('b', '2026-12-03T10:00:00')
        self.assertEqual(rules.newest([a, b]), rules.newest([b, a]))


class VolumeRefusalTest(testtools.TestCase):

    def test_the_newest_snapshot_is_the_one(self):
        self.assertEqual((S2, None), rules.volume_refusal(VOL, [S1, S2]))

    def test_no_snapshot(self):
        snap_, why = rules.volume_refusal(VOL, [])
        self.assertIsNone(snap_)
        self.assertIn('no snapshot', why)
        self.assertIn('data', why)

    def test_refused_as_the_snapshot_row_is(self):
        vol = rules.Volume(id='v1', status='in-use', size=1)
        snap_, why = rules.volume_refusal(vol, [S1, S2])
        self.assertEqual(S2, snap_)
        self.assertIn('in-use', why)
