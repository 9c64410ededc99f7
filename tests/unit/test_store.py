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
"""The chain document on a real (temporary) directory."""

import json
import os
import stat

import fixtures
import testtools

from incsnap_driver import chain as chain_mod
from incsnap_driver import store

VOL = '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'


SA = '11111111-1111-4111-8111-111111111111'
SB = '22222222-2222-4222-8222-222222222222'


def _chain():
    return chain_mod.Chain(
        volume_id=VOL,
        snapshots=[
            chain_mod.SnapshotRecord(
                id=SA, file='snapshot-%s.qcow2' % SA, kind=chain_mod.FULL,
                depth=1, reason=chain_mod.REASON_FIRST, hidden=True,
                bitmap='incsnap-' + SA, size=1 << 30,
                created_at='2024-01-01',
                checkpoint_xml='<domaincheckpoint/>', mode='online'),
            chain_mod.SnapshotRecord(
                id=SB, file='snapshot-%s.qcow2' % SB,
                kind=chain_mod.INCREMENTAL, depth=2, parent=SA,
                bitmap='incsnap-' + SB, size=1 << 30, mode='offline')],
        head=SB,
        journal={'op': 'revert', 'snapshot': SB,
                 'undo': 'revert-%s.undo.qcow2' % SB})


class ChainStoreTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.dir = os.path.join(self.root, 'volume-x.incsnap')
        self.store = store.ChainStore(self.dir)

    def _write(self, text):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.store.path, 'w') as f:
            f.write(text)

    def _document(self, **changes):
        data = store.to_dict(_chain())
        data.update(changes)
        return json.dumps(data)

    def assertUnreadable(self, text_in_reason):
        exc = self.assertRaises(store.ChainDocumentError, self.store.load,
                                VOL)
        self.assertEqual(self.store.path, exc.path)
        self.assertIn(self.store.path, str(exc))
        self.assertIn(text_in_reason, exc.reason)
        return exc

    def test_round_trip(self):
        self.assertFalse(self.store.exists())
        self.store.save(_chain())
        self.assertTrue(self.store.exists())
        self.assertEqual(_chain(), self.store.load(VOL))
        self.assertEqual(os.path.join(self.dir, 'chain.json'),
                         self.store.path)

    def test_save_replaces(self):
        self.store.save(_chain())
        chain = _chain()
        chain.snapshots.pop()
        chain.head = None
        chain.journal = None
        self.store.save(chain)
        loaded = self.store.load(VOL)
        self.assertEqual([SA], [r.id for r in loaded.snapshots])
        self.assertIsNone(loaded.head)
        self.assertIsNone(loaded.journal)

    def test_save_leaves_no_temporary_file(self):
        for _ in range(3):
            self.store.save(_chain())
        self.assertEqual(['chain.json'], os.listdir(self.dir))

    def test_failed_save_leaves_no_temporary_file(self):
        # A directory in the document's place makes the rename fail after
        # the temporary file was written.
        os.makedirs(os.path.join(self.store.path, 'in-the-way'))
        self.assertRaises(OSError, self.store.save, _chain())
        self.assertEqual(['chain.json'], os.listdir(self.dir))

    def test_unserialisable_chain_writes_nothing(self):
        self.store.save(_chain())
        chain = _chain()
        chain.journal = {'undo': object()}
        self.assertRaises(TypeError, self.store.save, chain)
        self.assertEqual(['chain.json'], os.listdir(self.dir))
        self.assertEqual(_chain(), self.store.load(VOL))

    def test_file_mode(self):
        for mode in (0o600, 0o640, 0o664):
            store.ChainStore(self.dir, file_mode=mode).save(_chain())
            self.assertEqual(mode,
                             stat.S_IMODE(os.stat(self.store.path).st_mode))

    def test_default_file_mode(self):
        self.store.save(_chain())
        self.assertEqual(0o660, stat.S_IMODE(os.stat(self.store.path).st_mode))

    def test_missing_document_is_an_empty_chain(self):
        chain = self.store.load(VOL)
        self.assertEqual(chain_mod.Chain(volume_id=VOL), chain)
        self.assertFalse(os.path.exists(self.dir))

    def test_remove(self):
        self.store.save(_chain())
        self.store.remove()
        self.assertFalse(self.store.exists())
        self.store.remove()  # idempotent

    def test_corrupt_json(self):
        self._write('{"version": 1, "volume_id": ')
        self.assertUnreadable('not JSON')

    def test_not_utf8(self):
        os.makedirs(self.dir)
        with open(self.store.path, 'wb') as f:
            f.write(b'\xff\xfe\x00garbage')
        self.assertUnreadable('not JSON')

    def test_not_a_chain_document(self):
        for text in ('[]', '"x"', '{"version": 1}'):
            self._write(text)
            self.assertUnreadable('not a chain document')

    def test_wrong_version(self):
        self._write(self._document(version=2))
        self.assertUnreadable('format version 2, expected 1')
        self._write(self._document(version=None))
        self.assertUnreadable('format version None')

    def test_other_volumes_document(self):
        self._write(self._document(volume_id='someone-else'))
        exc = self.assertUnreadable('belongs to volume someone-else')
        self.assertIn(VOL, exc.reason)

    def test_malformed_record(self):
        data = store.to_dict(_chain())
        del data['snapshots'][1]['depth']
        self._write(json.dumps(data))
        self.assertUnreadable('malformed record')

    def test_records_that_are_not_objects(self):
        for snapshots in (['snapshot-a.qcow2'], [1], {'a': {}}, 7, [None]):
            self._write(self._document(snapshots=snapshots))
            self.assertUnreadable('malformed record')

    def test_unknown_record_fields_are_ignored(self):
        data = store.to_dict(_chain())
        data['snapshots'][0]['from_the_future'] = True
        self._write(json.dumps(data))
        self.assertEqual(_chain(), self.store.load(VOL))


class HostileDocumentTest(testtools.TestCase):
    """A tampered document must not point the driver at other files."""

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.store = store.ChainStore(os.path.join(self.root, 'v.incsnap'))

    def assertRefused(self, mutate, expected):
        data = store.to_dict(_chain())
        mutate(data)
        os.makedirs(self.store.directory)
        with open(self.store.path, 'w') as f:
            json.dump(data, f)
        exc = self.assertRaises(store.ChainDocumentError, self.store.load,
                                VOL)
        self.assertIn(expected, str(exc))
        self.assertIn(self.store.path, str(exc))

    def test_file_climbing_out(self):
        def mutate(data):
            data['snapshots'][0]['file'] = '../../../etc/shadow'
        self.assertRefused(mutate, '../../../etc/shadow')

    def test_file_of_another_snapshot(self):
        def mutate(data):
            data['snapshots'][1]['file'] = 'snapshot-%s.qcow2' % SA
        self.assertRefused(mutate, 'expected snapshot-%s.qcow2' % SB)

    def test_id_not_a_uuid(self):
        def mutate(data):
            data['snapshots'][0]['id'] = '../x'
        self.assertRefused(mutate, "'../x' is not a UUID")

    def test_parent_not_a_uuid(self):
        def mutate(data):
            data['snapshots'][1]['parent'] = '/etc'
        self.assertRefused(mutate, "'/etc' is not a UUID")

    def test_journal_undo_elsewhere(self):
        def mutate(data):
            data['journal']['undo'] = '/root/.ssh/id_rsa'
        self.assertRefused(mutate, '/root/.ssh/id_rsa')
