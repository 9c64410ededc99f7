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
"""The lock intervals out of the services' logs, and their overlaps."""

import math

import testtools

from incsnap_driver import lock_log

LOCK = 'nfs-0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'
OTHER = 'nfs-11111111-1111-4111-8111-111111111111'


def held(lock, host, pid, enter, exit, token, op='create_snapshot'):
    """Two log lines as oslo.log writes them, prefix and all."""
    prefix = '2026-12-03 16:00:00.000 %d INFO incsnap_driver.volume_lock ' \
             '[req-1 - - - - - -] ' % pid
    lines = [prefix + lock_log.line(lock_log.ENTER, lock, op, host, pid,
                                    enter, token)]
    if exit is not None:
        lines.append(prefix + lock_log.line(lock_log.EXIT, lock, op, host,
                                            pid, exit, token))
    return lines


class ParseTest(testtools.TestCase):

    def test_lines_round_trip_and_others_are_skipped(self):
        text = '\n'.join(['unrelated', 'incsnap-lock {not json'] +
                         held(LOCK, 'aio@incsnap', 7, 1.5, 2.5, 't1'))
        events = lock_log.parse(text)
        self.assertEqual([lock_log.ENTER, lock_log.EXIT],
                         [e.event for e in events])
        self.assertEqual({(LOCK, 'aio@incsnap', 7, 't1')},
                         {(e.lock, e.host, e.pid, e.token) for e in events})

    def test_intervals_pair_by_token(self):
        events = lock_log.parse('\n'.join(
            held(LOCK, 'a', 1, 1.0, 2.0, 't1') +
            held(LOCK, 'a', 1, 3.0, 4.0, 't2')))
        spans = lock_log.intervals(events)
        self.assertEqual([(1.0, 2.0), (3.0, 4.0)],
                         [(s.enter, s.exit) for s in spans])

    def test_an_open_interval_lasts_until_its_holder_died(self):
        events = lock_log.parse('\n'.join(held(LOCK, 'a', 1, 1.0, None,
                                               't1')))
        self.assertEqual(math.inf, lock_log.intervals(events)[0].ends)
        span = lock_log.intervals(events, died={1: 5.0})[0]
        self.assertIsNone(span.exit)
        self.assertEqual(5.0, span.ends)


class OverlapsTest(testtools.TestCase):

    def spans(self, *groups, died=None):
        lines = []
        for group in groups:
            lines += held(*group)
        return lock_log.intervals(lock_log.parse('\n'.join(lines)),
                                  died=died)

    def test_one_after_the_other_is_no_overlap(self):
        spans = self.spans((LOCK, 'a', 1, 1.0, 2.0, 't1'),
                           (LOCK, 'b', 2, 2.0, 3.0, 't2'),
                           (LOCK, 'a', 1, 3.5, 4.0, 't3'))
        self.assertEqual([], lock_log.overlaps(spans))

    def test_two_nodes_inside_one_lock_overlap(self):
        spans = self.spans((LOCK, 'a', 1, 1.0, 3.0, 't1'),
                           (LOCK, 'b', 2, 2.0, 4.0, 't2'))
        found = lock_log.overlaps(spans)
        self.assertEqual(1, len(found))
        self.assertEqual(('a', 'b'), (found[0][0].host, found[0][1].host))
        self.assertIn(LOCK, lock_log.describe(found[0]))

    def test_a_section_inside_another_overlaps(self):
        spans = self.spans((LOCK, 'a', 1, 1.0, 9.0, 't1'),
                           (LOCK, 'b', 2, 2.0, 3.0, 't2'),
                           (LOCK, 'b', 2, 4.0, 5.0, 't3'))
        self.assertEqual(2, len(lock_log.overlaps(spans)))

    def test_other_locks_do_not_count(self):
        spans = self.spans((LOCK, 'a', 1, 1.0, 3.0, 't1'),
                           (OTHER, 'b', 2, 2.0, 4.0, 't2'))
        self.assertEqual([], lock_log.overlaps(spans))

    def test_a_dead_holder_overlaps_whoever_entered_before_it_died(self):
        groups = ((LOCK, 'a', 1, 1.0, None, 't1'),
                  (LOCK, 'b', 2, 6.0, 7.0, 't2'))
        self.assertEqual(1, len(lock_log.overlaps(self.spans(*groups))))
        self.assertEqual([], lock_log.overlaps(
            self.spans(*groups, died={1: 5.0})))
        self.assertEqual(1, len(lock_log.overlaps(
            self.spans(*groups, died={1: 6.5}))))
