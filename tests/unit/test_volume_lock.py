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
"""The driver's volume locks: Cinder's coordination, each section logged.

Cinder's real coordinator on tooz's file backend in a temporary folder
(the one-host default); what is checked is what the cluster tests read
back from the services' logs: one enter and one exit line per held lock,
with the operation, the holder and intervals that never overlap.
"""

import threading
import time

from cinder import coordination
import fixtures
from oslo_config import cfg
import testtools

from incsnap_driver import lock_log
from incsnap_driver import volume_lock

VOL = '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'
SRC = '11111111-1111-4111-8111-111111111111'


class Holder:
    """Stands for the driver: ``host`` and ``driver_prefix``, two methods."""

    host = 'node1@incsnap'
    driver_prefix = 'nfs'

    def __init__(self):
        self.inside = 0
        self.most = 0
        self.guard = threading.Lock()

    @volume_lock.synchronized('{self.driver_prefix}-{volume_id}')
    def work(self, volume_id, seconds=0.05):
        with self.guard:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(seconds)
        with self.guard:
            self.inside -= 1
        return volume_id

    @volume_lock.synchronized('{self.driver_prefix}-{source}',
                              '{self.driver_prefix}-{volume_id}')
    def copy(self, volume_id, source):
        return source


class VolumeLockTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        folder = self.useFixture(fixtures.TempDir()).path
        cfg.CONF.set_override('backend_url', 'file://' + folder,
                              group='coordination')
        self.addCleanup(cfg.CONF.clear_override, 'backend_url',
                        group='coordination')
        coordination.COORDINATOR.start()
        self.addCleanup(coordination.COORDINATOR.stop)
        self.log = self.useFixture(fixtures.FakeLogger(
            name='incsnap_driver.volume_lock', level='INFO'))

    def spans(self):
        return lock_log.intervals(lock_log.parse(self.log.output))

    def test_a_section_logs_enter_and_exit(self):
        self.assertEqual(VOL, Holder().work(VOL))
        spans = self.spans()
        self.assertEqual(1, len(spans))
        span = spans[0]
        self.assertEqual(('nfs-' + VOL, 'work', 'node1@incsnap'),
                         (span.lock, span.op, span.host))
        self.assertLessEqual(span.enter, span.exit)

    def test_two_locks_are_two_sections(self):
        Holder().copy(VOL, SRC)
        self.assertEqual({'nfs-' + VOL, 'nfs-' + SRC},
                         {s.lock for s in self.spans()})

    def test_threads_on_one_volume_take_turns(self):
        holder = Holder()
        threads = [threading.Thread(target=holder.work, args=(VOL,))
                   for _i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(1, holder.most)
        spans = self.spans()
        self.assertEqual(4, len(spans))
        self.assertEqual([], lock_log.overlaps(spans))

    def test_hold_and_try_hold(self):
        name = volume_lock.domain_lock(VOL)
        with volume_lock.hold([name], 'create_snapshot', 'node1@incsnap'):
            other = threading.Thread(target=self._try, args=(name,))
            other.start()
            other.join()
        self.assertIsNone(self.tried)
        held = volume_lock.try_hold(name, 'startup_recovery', 'n')
        self.assertIsNotNone(held)
        with held:
            pass
        self.assertEqual(['create_snapshot', 'startup_recovery'],
                         [s.op for s in self.spans()])

    def _try(self, name):
        self.tried = volume_lock.try_hold(name, 'startup_recovery', 'n')


class LeaseTest(testtools.TestCase):
    """How long a killed holder's lock outlives it, by backend URL."""

    def test_file_locks_die_with_their_holder(self):
        self.assertEqual(0.0, volume_lock.lease_seconds('file:///var/lock'))
        self.assertEqual(0.0, volume_lock.lease_seconds(None))

    def test_etcd_lease_from_the_url_or_toozs_default(self):
        self.assertEqual(20.0, volume_lock.lease_seconds(
            'etcd3+http://h:2379?lock_timeout=20&membership_timeout=5'))
        self.assertEqual(30.0, volume_lock.lease_seconds(
            'etcd3+http://h:2379'))
        self.assertEqual(30.0, volume_lock.lease_seconds(
            'etcd3+http://h:2379?lock_timeout=soon'))
