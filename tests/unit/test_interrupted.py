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
"""Which volumes need the start-up recovery; which status fits after."""

import testtools

from incsnap_driver import chain as chain_mod
from incsnap_driver import interrupted as it

VOL = '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'
SA = '11111111-1111-4111-8111-111111111111'


def stuck(kind, status, resource_id=VOL, volume_status='reverting'):
    return it.Stuck(kind=kind, id=resource_id, volume_id=VOL, status=status,
                    volume_path='/share/volume-' + VOL,
                    volume_status=volume_status)


class ReasonsTest(testtools.TestCase):

    def test_a_clean_volume_needs_nothing(self):
        self.assertEqual([], it.reasons(it.Found(VOL, '/share')))

    def test_every_kind_of_evidence_is_named(self):
        found = it.Found(VOL, '/share', partials=('volume-x.part',),
                         leftovers=('a.part', 'b.undo.qcow2'), journal=True,
                         unreadable=True, tools=(12, 34))
        self.assertEqual(['QEMU tool(s) 12, 34 on its files',
                          'an interrupted revert in its journal',
                          'an unreadable chain document',
                          '3 partial file(s)',
                          'snapshot %s left deleting' % SA],
                         it.reasons(found, [stuck(it.SNAPSHOT, 'deleting',
                                                  SA)]))

    def test_a_stuck_resource_alone_is_a_reason(self):
        self.assertEqual(['volume %s left reverting' % VOL],
                         it.reasons(None, [stuck(it.VOLUME, 'reverting')]))


class SettleTest(testtools.TestCase):

    INTACT = it.AfterRecovery(volume_file=True)
    REVERTING = it.AfterRecovery(volume_file=True, revert_traces=True)

    def test_reverting_volume_rolled_back_is_available(self):
        result = it.settle(stuck(it.VOLUME, 'reverting'),
                           it.AfterRecovery(volume_file=True,
                                            revert_traces=True,
                                            rolled_back=True))
        self.assertEqual('available', result.status)
        self.assertIn('rolled back', result.why)
        self.assertIsNone(result.admin)

    def test_reverting_volume_not_yet_written_is_available(self):
        result = it.settle(stuck(it.VOLUME, 'reverting'), self.REVERTING)
        self.assertEqual('available', result.status)
        self.assertIn('had not written the volume', result.why)

    def test_reverting_volume_without_trace_may_have_a_queued_request(self):
        for item in (stuck(it.VOLUME, 'reverting'),
                     stuck(it.SNAPSHOT, 'restoring', SA)):
            result = it.settle(item, it.AfterRecovery(
                volume_file=True, snapshots={SA: it.LIVE}))
            self.assertIsNone(result.status)
            self.assertIn('may still be queued', result.why)
            self.assertIn('--state available', result.admin)

    def test_reverting_volume_without_file_is_left(self):
        result = it.settle(stuck(it.VOLUME, 'reverting'),
                           it.AfterRecovery(volume_file=False,
                                            revert_traces=True))
        self.assertIsNone(result.status)
        self.assertEqual('openstack volume set --state available %s' % VOL,
                         result.admin)

    def test_restoring_snapshot_of_a_volume_no_longer_reverting(self):
        # Its volume was settled (by a start that died before the
        # snapshot, or by the admin): no revert to it can be under way.
        item = stuck(it.SNAPSHOT, 'restoring', SA, volume_status='available')
        result = it.settle(item, it.AfterRecovery(
            volume_file=True, snapshots={SA: it.LIVE}))
        self.assertEqual('available', result.status)

    def after(self, state):
        return it.AfterRecovery(volume_file=True, revert_traces=True,
                                snapshots={SA: state})

    def test_restoring_snapshot(self):
        item = stuck(it.SNAPSHOT, 'restoring', SA)
        self.assertEqual('available',
                         it.settle(item, self.after(it.LIVE)).status)
        for state in (it.HIDDEN, it.ABSENT, it.FILE_MISSING):
            result = it.settle(item, self.after(state))
            self.assertIsNone(result.status)
            self.assertEqual('openstack volume snapshot set --state '
                             'available %s' % SA, result.admin)

    def test_deleting_snapshot_follows_the_share(self):
        item = stuck(it.SNAPSHOT, 'deleting', SA)
        live = it.settle(item, self.after(it.LIVE))
        self.assertEqual('available', live.status)
        self.assertIn('delete it again', live.why)
        for state in (it.HIDDEN, it.ABSENT, it.FILE_MISSING):
            self.assertEqual('error_deleting',
                             it.settle(item, self.after(state)).status)

    def test_nothing_is_set_in_a_cluster_or_after_a_failure(self):
        item = stuck(it.SNAPSHOT, 'deleting', SA)
        in_cluster = it.settle(item, self.after(it.LIVE), clustered=True)
        self.assertIsNone(in_cluster.status)
        self.assertIn('another node', in_cluster.why)
        self.assertIn('then delete it again', in_cluster.admin)
        failed = it.settle(stuck(it.VOLUME, 'reverting'), None)
        self.assertIsNone(failed.status)
        self.assertIn('recovery of its volume failed', failed.why)

    def test_statuses_cinder_settles_are_not_touched(self):
        for kind, status in ((it.SNAPSHOT, 'creating'),
                             (it.VOLUME, 'extending'),
                             (it.VOLUME, 'creating')):
            self.assertIsNone(it.settle(stuck(kind, status),
                                        self.INTACT).status)

    def test_snapshot_state_of_a_record(self):
        record = chain_mod.SnapshotRecord(id=SA, file='f', kind='full',
                                          depth=1)
        self.assertEqual(it.ABSENT, it.snapshot_state(None, False))
        self.assertEqual(it.LIVE, it.snapshot_state(record, True))
        self.assertEqual(it.FILE_MISSING, it.snapshot_state(record, False))
        record.hidden = True
        self.assertEqual(it.HIDDEN, it.snapshot_state(record, True))

    def test_every_listed_status_has_an_admin_call_and_a_settler(self):
        for kind, statuses in it.LISTED.items():
            for status in statuses:
                self.assertIn('{id}', it.ADMIN_CALLS[(kind, status)])
                self.assertIn((kind, status), it.WHO_SETTLES)
