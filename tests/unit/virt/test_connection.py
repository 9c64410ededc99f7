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
"""URI handling of the connection module."""

import testtools

from incsnap_driver.virt import connection
from incsnap_driver.virt import errors


class RedactUriTest(testtools.TestCase):

    def test_plain_uris_unchanged(self):
        for uri in ('qemu:///system', 'qemu+ssh://nova@cmp1/system',
                    'qemu+tls://cmp1.example.org/system?no_verify=1',
                    'qemu+ssh://[fd00::1]:2222/system?keyfile=/k'):
            self.assertEqual(uri, connection.redact_uri(uri))

    def test_password_in_user_part(self):
        out = connection.redact_uri('qemu+ssh://admin:s3cr:et@cmp1/system')
        self.assertEqual('qemu+ssh://admin:***@cmp1/system', out)
        self.assertNotIn('s3cr', out)

    def test_password_like_query_values(self):
        out = connection.redact_uri(
            'qemu+tcp://cmp1/system?authname=u&password=p4ss&'
            'x_token=t0k&mode=direct')
        for secret in ('p4ss', 't0k'):
            self.assertNotIn(secret, out)
        self.assertIn('mode=direct', out)
        self.assertIn('password=***', out)

    def test_scrub_message(self):
        uri = 'qemu+ssh://admin:s3cret@cmp1/system?password=p4ss'
        text = connection.scrub('Cannot open %s: s3cret rejected' % uri,
                                uri)
        self.assertNotIn('s3cret', text)
        self.assertNotIn('p4ss', text)


class BuildUriTest(testtools.TestCase):

    def test_host_substituted(self):
        self.assertEqual('qemu+ssh://cmp1/system',
                         connection.build_uri('qemu+ssh://{host}/system',
                                              'cmp1'))

    def test_ipv6_bracketed(self):
        self.assertEqual('qemu+tls://[fd00::7]/system',
                         connection.build_uri('qemu+tls://{host}/system',
                                              'fd00::7'))

    def test_no_placeholder(self):
        self.assertEqual('qemu:///system',
                         connection.build_uri('qemu:///system', None))

    def test_missing_host(self):
        exc = self.assertRaises(errors.ConnectionFailed,
                                connection.build_uri,
                                'qemu+ssh://u:pw@{host}/system', '')
        self.assertNotIn('pw', str(exc))

    def test_failed_connection_message_is_redacted(self):
        exc = self.assertRaises(
            errors.ConnectionFailed, connection.open_connection,
            'qemu+nosuchtransport://admin:s3cret@{host}/system', 'cmp1',
            use_tpool=False)
        self.assertNotIn('s3cret', str(exc))
        self.assertIn('admin:***@cmp1', str(exc))
        self.assertIn('of compute host cmp1', str(exc))

    def test_failed_connection_without_host_names_none(self):
        exc = self.assertRaises(
            errors.ConnectionFailed, connection.open_connection,
            'qemu+nosuchtransport://localhost/system', use_tpool=False)
        self.assertNotIn('compute host', str(exc))
        self.assertIn('qemu+nosuchtransport://localhost/system', str(exc))
