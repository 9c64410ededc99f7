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
"""The owner mark on QEMU tools, and who may stop a tool."""

import os
import subprocess

import testtools

from incsnap_driver.qemu import orphans
from incsnap_driver.qemu import owner
from incsnap_driver.qemu import processes

ME = owner.Owner(service='node1@incsnap', pid=100, start=5000)


class MarkTest(testtools.TestCase):

    def test_mark_reads_back_from_a_command_line(self):
        args = ['qemu-img', 'convert'] + ME.args() + ['-U', 'a', 'b']
        self.assertEqual(['--object',
                          'secret,id=incsnap-owner,'
                          'data=node1@incsnap:100:5000'], ME.args())
        self.assertEqual(ME, owner.of(args))

    def test_commas_and_colons_in_the_service_name(self):
        odd = owner.Owner(service='host:a,b@be#pool', pid=7, start=9)
        self.assertIn('data=host:a,,b@be#pool:7:9', odd.args()[1])
        self.assertEqual(odd, owner.of(['qemu-storage-daemon'] + odd.args()))

    def test_no_mark_or_a_broken_one(self):
        self.assertIsNone(owner.of(['qemu-img', 'info', 'x']))
        self.assertIsNone(owner.of(
            ['qemu-img', '--object',
             'secret,id=incsnap-owner,data=node1@incsnap:x:5000']))
        self.assertIsNone(owner.of(
            ['qemu-img', '--object', 'secret,id=other,data=a:1:2']))

    def test_current_is_this_process(self):
        me = owner.current('node1@incsnap')
        self.assertEqual(os.getpid(), me.pid)
        self.assertEqual(processes.start_time(os.getpid()), me.start)


class VerdictTest(testtools.TestCase):

    def verdict(self, found, starter_now):
        return owner.verdict(found, ME, starter_now)

    def test_starter_gone_is_an_orphan(self):
        found = owner.Owner(ME.service, pid=42, start=10)
        self.assertEqual(owner.ORPHAN, self.verdict(found, None))

    def test_pid_reused_by_another_process_is_an_orphan(self):
        found = owner.Owner(ME.service, pid=42, start=10)
        self.assertEqual(owner.ORPHAN, self.verdict(found, 11))

    def test_starter_alive_is_left_alone(self):
        found = owner.Owner(ME.service, pid=42, start=10)
        self.assertEqual(owner.LIVE, self.verdict(found, 10))

    def test_this_process_under_the_lock_is_an_orphan(self):
        self.assertEqual(owner.ORPHAN, self.verdict(ME, ME.start))

    def test_another_service_is_never_ours(self):
        for service in ('node2@incsnap', 'node1@other', ''):
            found = owner.Owner(service, pid=42, start=10)
            self.assertEqual(owner.FOREIGN, self.verdict(found, None))
            self.assertEqual(owner.FOREIGN, self.verdict(found, 10))

    def test_no_mark(self):
        self.assertEqual(owner.UNMARKED, self.verdict(None, None))


class JudgeTest(testtools.TestCase):
    """orphans.judge on real processes: liveness read from /proc."""

    def live_process(self):
        proc = subprocess.Popen(['sleep', '60'])
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        return proc.pid

    def tool(self, found, program='qemu-img', extra=()):
        return orphans.Tool(pid=1, program=program,
                            args=(program,) + tuple(extra) +
                            tuple(found.args() if found else ()))

    def test_live_starter_of_this_service(self):
        pid = self.live_process()
        found = owner.Owner(ME.service, pid, processes.start_time(pid))
        self.assertEqual((owner.LIVE, found),
                         orphans.judge(self.tool(found), ME))

    def test_dead_starter_of_this_service(self):
        proc = subprocess.Popen(['true'])
        proc.wait()
        found = owner.Owner(ME.service, proc.pid, 1)
        self.assertEqual(owner.ORPHAN,
                         orphans.judge(self.tool(found), ME)[0])

    def test_other_service_even_when_dead(self):
        found = owner.Owner('node2@incsnap', 999999, 1)
        self.assertEqual(owner.FOREIGN,
                         orphans.judge(self.tool(found), ME)[0])

    def test_unmarked_daemon_of_an_older_driver_is_an_orphan(self):
        legacy = self.tool(None, 'qemu-storage-daemon',
                           ('--pidfile', '/tmp/incsnap-qsd-abc/qsd.pid'))
        self.assertEqual((owner.ORPHAN, None), orphans.judge(legacy, ME))
        other = self.tool(None, 'qemu-storage-daemon',
                          ('--pidfile', '/run/other/qsd.pid'))
        self.assertEqual(owner.UNMARKED, orphans.judge(other, ME)[0])
        self.assertEqual(owner.UNMARKED,
                         orphans.judge(self.tool(None), ME)[0])

    def test_only_the_tool_itself_counts(self):
        self.assertIsNone(orphans.tool_of(1, ['sudo', 'cinder-rootwrap',
                                              'qemu-img', 'convert']))
        self.assertIsNone(orphans.tool_of(1, []))
        self.assertEqual('qemu-img', orphans.tool_of(
            1, ['/usr/bin/qemu-img', 'convert']).program)
