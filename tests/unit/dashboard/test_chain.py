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
"""The chain facts the dashboard reads (incsnap_dashboard.chain)."""

import testtools

from incsnap_dashboard import chain


class ChainInfoTest(testtools.TestCase):

    def test_full(self):
        info = chain.chain_info({'incsnap:kind': 'full',
                                 'incsnap:chain_depth': '1',
                                 'incsnap:full_reason': 'first',
                                 'owner': 'someone'})
        self.assertEqual(chain.ChainInfo('full', 1, None, 'first'), info)
        self.assertTrue(info.known)
        self.assertEqual('first snapshot of the volume', info.reason_text)

    def test_incremental(self):
        info = chain.chain_info({'incsnap:kind': 'incremental',
                                 'incsnap:chain_depth': '3',
                                 'incsnap:parent': 'p-id'})
        self.assertEqual(3, info.depth)
        self.assertEqual('p-id', info.parent)
        self.assertIsNone(info.reason_text)

    def test_another_backends_snapshot_is_all_blank(self):
        for md in (None, {}, {'user': 'key'}):
            info = chain.chain_info(md)
            self.assertEqual(chain.ChainInfo(), info)
            self.assertFalse(info.known)
            self.assertIsNone(info.reason_text)

    def test_odd_values_are_blank_not_errors(self):
        info = chain.chain_info({'incsnap:kind': '',
                                 'incsnap:chain_depth': 'x'})
        self.assertIsNone(info.kind)
        self.assertIsNone(info.depth)

    def test_unknown_reason_code_shown_as_it_is(self):
        info = chain.chain_info({'incsnap:kind': 'full',
                                 'incsnap:full_reason': 'new_code'})
        self.assertEqual('new_code', info.reason_text)

    def test_every_reason_of_the_driver_has_a_text(self):
        from incsnap_driver import chain as driver_chain
        codes = {v for k, v in vars(driver_chain).items()
                 if k.startswith('REASON_')}
        self.assertEqual(set(), codes - set(chain.FULL_REASONS))


class ProgressTest(testtools.TestCase):

    def test_progress(self):
        key = chain.PROGRESS_KEY
        self.assertEqual('42%', chain.progress({key: '42%'}))
        self.assertEqual('7%', chain.progress({key: 7}))
        self.assertIsNone(chain.progress({key: ''}))
        self.assertIsNone(chain.progress({}))
        self.assertIsNone(chain.progress(None))
