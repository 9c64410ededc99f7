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
"""Each share a pool: the decisions, over plain values."""

import testtools

from incsnap_driver.ops import pools

A = '127.0.0.1:/srv/a'
B = '127.0.0.1:/srv/b'
SHARES = [A, B]
GiB = 1024 ** 3


class TestPoolOfShare(testtools.TestCase):

    def test_pool_is_the_share(self):
        self.assertEqual(A, pools.pool_name(A))
        self.assertEqual(B, pools.share_of_pool(B, SHARES))

    def test_unknown_or_missing_pool_has_no_share(self):
        # A host without a pool, or the backend's name as its pool (as
        # volumes created before the shares were pools have).
        self.assertIsNone(pools.share_of_pool(None, SHARES))
        self.assertIsNone(pools.share_of_pool('incsnap', SHARES))
        self.assertIsNone(pools.share_of_pool('127.0.0.1:/srv', SHARES))


class TestPoolStats(testtools.TestCase):

    def test_figures_in_gib_and_capabilities_in_every_pool(self):
        cap = pools.ShareCapacity(A, total=10 * GiB, free=4 * GiB,
                                  provisioned=7.5 * GiB)
        stats = pools.pool_stats(cap, 5, 20.0, thin=True,
                                 extra={'incremental_snapshots': True})
        self.assertEqual(A, stats['pool_name'])
        self.assertEqual(10.0, stats['total_capacity_gb'])
        self.assertEqual(4.0, stats['free_capacity_gb'])
        self.assertEqual(7.5, stats['provisioned_capacity_gb'])
        self.assertEqual(5, stats['reserved_percentage'])
        self.assertEqual(20.0, stats['max_over_subscription_ratio'])
        self.assertTrue(stats['thin_provisioning_support'])
        self.assertFalse(stats['thick_provisioning_support'])
        self.assertTrue(stats['incremental_snapshots'])

    def test_thick(self):
        cap = pools.ShareCapacity(B, total=GiB, free=GiB, provisioned=0)
        stats = pools.pool_stats(cap, 0, 1.0, thin=False)
        self.assertFalse(stats['thin_provisioning_support'])
        self.assertTrue(stats['thick_provisioning_support'])


class TestBackendStats(testtools.TestCase):

    def test_a_pool_per_share_and_totals_their_sums(self):
        caps = [pools.ShareCapacity(A, total=10 * GiB, free=4 * GiB,
                                    provisioned=7 * GiB),
                pools.ShareCapacity(B, total=6 * GiB, free=5 * GiB,
                                    provisioned=0.5 * GiB)]
        stats = pools.backend_stats(caps, 'incsnap', '1.0.0', 5, 20.0,
                                    thin=True,
                                    extra={'incremental_snapshots': True})
        self.assertEqual([A, B], [p['pool_name'] for p in stats['pools']])
        self.assertEqual(16.0, stats['total_capacity_gb'])
        self.assertEqual(9.0, stats['free_capacity_gb'])
        self.assertEqual(7.5, stats['provisioned_capacity_gb'])
        self.assertEqual(('incsnap', '1.0.0', 'NFS', 'Open Source'),
                         (stats['volume_backend_name'],
                          stats['driver_version'], stats['storage_protocol'],
                          stats['vendor_name']))
        self.assertEqual(5, stats['reserved_percentage'])
        self.assertEqual(20.0, stats['max_over_subscription_ratio'])
        self.assertTrue(stats['thin_provisioning_support'])
        self.assertFalse(stats['QoS_support'])
        self.assertTrue(stats['incremental_snapshots'])
        self.assertTrue(stats['pools'][1]['incremental_snapshots'])

    def test_no_share_mounted(self):
        stats = pools.backend_stats([], 'incsnap', '1.0.0', 0, 1.0,
                                    thin=False)
        self.assertEqual([], stats['pools'])
        self.assertEqual(0, stats['total_capacity_gb'])
        self.assertTrue(stats['thick_provisioning_support'])


class TestPlanMove(testtools.TestCase):

    def test_other_pool_of_same_backend_is_moved(self):
        plan = pools.plan_move('node@incsnap#' + A, 'node@incsnap#' + B,
                               SHARES, attached=False)
        self.assertEqual(B, plan.share)

    def test_from_a_host_without_pool(self):
        plan = pools.plan_move('node@incsnap', 'node@incsnap#' + B,
                               SHARES, attached=False)
        self.assertEqual(B, plan.share)

    def test_declined(self):
        cases = [
            # (destination, attached, words of the reason)
            ('other@incsnap#' + B, False, 'another backend'),
            ('node@nfs#' + B, False, 'another backend'),
            ('node@incsnap#127.0.0.1:/srv/c', False, 'none of the shares'),
            ('node@incsnap', False, 'none of the shares'),
            ('node@incsnap#' + A, False, 'already'),
            ('node@incsnap#' + B, True, 'attached'),
        ]
        for dest, attached, words in cases:
            plan = pools.plan_move('node@incsnap#' + A, dest, SHARES,
                                   attached=attached)
            self.assertIsNone(plan.share, dest)
            self.assertIn(words, plan.reason, dest)
