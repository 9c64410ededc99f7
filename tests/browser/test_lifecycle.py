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
"""The snapshot lifecycle clicked through Horizon, bytes checked on disk."""

import os

from selenium.webdriver.common.by import By

from tests.browser import base
from tests.common import images

MiB = base.MiB
SNAPS = 'volume_snapshots'


class TestLifecycle(base.BrowserTestCase):

    def test_snapshot_lifecycle(self):
        self.login()
        vname = self.unique_name('vol')
        vid = self.create_volume_ui(vname)
        self.shot('volume-available')
        model = self.new_model('vol.raw')
        self.offline_write(vid, 0, 2 * MiB, 0x41, model)
        at_s1 = model.copy(model.path + '.s1')

        # Snapshot 1 from the volume's row action: a full one.
        self.s1_name = self.unique_name('snap1')
        s1 = self.create_snapshot_ui(vid, self.s1_name)
        self.wait_row_status(SNAPS, s1, 'Available')
        self.shot('snapshot1-available')
        self.open('/project/snapshots/%s' % s1)
        self.assertEqual('full', self.detail_field('.incsnap-kind'))
        self.assertEqual('1', self.detail_field('.incsnap-depth'))
        self.assertEqual('first snapshot of the volume',
                         self.detail_field('.incsnap-reason'))
        self.shot('snapshot1-detail')

        # More data, snapshot 2: incremental on top of snapshot 1.
        self.offline_write(vid, 8 * MiB, 1 * MiB, 0x42, model)
        at_s2 = model.copy(model.path + '.s2')
        s2 = self.create_snapshot_ui(vid, self.unique_name('snap2'))
        self.wait_row_status(SNAPS, s2, 'Available')
        self.open('/project/snapshots/')
        self.assertEqual('incremental', self.cell(SNAPS, s2, 'incsnap-kind'))
        self.assertEqual('2', self.cell(SNAPS, s2, 'incsnap-depth'))
        self.assertEqual('full', self.cell(SNAPS, s1, 'incsnap-kind'))
        self.assertEqual('100%', self.cell(SNAPS, s2, 'incsnap-progress'))
        # The parent cell names snapshot 1 (it is on the page).
        self.assertEqual(self.s1_name, self.cell(SNAPS, s2, 'incsnap-parent'))
        self.shot('snapshots-chain-columns')
        self.open('/project/snapshots/%s' % s2)
        self.assertEqual('incremental', self.detail_field('.incsnap-kind'))
        self.assertEqual('-', self.detail_field('.incsnap-reason'))
        self.shot('snapshot2-detail')
        self.find('.incsnap-chain .incsnap-parent a').click()
        self.wait(lambda d: d.current_url.rstrip('/').endswith(s1), 30,
                  'the parent link does not lead to snapshot 1')
        self.assertIn(s1, self.find('.detail').text)
        # Snapshot 1's own page: its revert is disabled (2 is newer).
        self.assertIn('disabled', self.driver.find_element(
            By.CSS_SELECTOR, '#%s__row_%s__action_incsnap_revert'
            % (SNAPS, s1)).get_attribute('class').split())
        self.shot('parent-link-followed')

        # Junk over the data, then revert with the plugin's action.
        self.offline_write(vid, 0, 12 * MiB, 0x5A)
        images.assert_different_content(STACK_PATH(vid), at_s2)
        self.open('/project/snapshots/')
        older = self.driver.find_element(
            By.CSS_SELECTOR, '#%s__row_%s__action_incsnap_revert'
            % (SNAPS, s1))
        self.assertIn('disabled', older.get_attribute('class'))
        self.row_action(SNAPS, s2, 'incsnap_revert')
        dialog = self.modal()
        self.assertIn('Revert volume', dialog.text)
        self.shot('revert-dialog')
        self.submit_modal()
        self.wait_modal_gone()
        self.assertTrue(any('Reverting volume' in m
                            for m in self.messages()), self.messages())
        seen = self.wait_cli_status('volume', vid, 'available')
        self.shot('reverted')
        self.assertEqual('available', seen[-1])
        self.assertContent(STACK_PATH(vid), at_s2)

        # A new volume from snapshot 1, from the Snapshots table.
        self.open('/project/snapshots/')
        self.row_action(SNAPS, s1, 'create_from_snapshot')
        self.modal()
        clone_name = self.unique_name('clone')
        self.fill('#id_name', clone_name)
        self.shot('volume-from-snapshot1-dialog')
        self.submit_modal()
        self.wait(lambda d: '/project/volumes' in d.current_url, 60,
                  'not on the Volumes panel after creating a volume')
        clone = self.row_id_by_name('volumes', clone_name)
        self.addCleanup(base.STACK.delete_quietly, 'volume', clone)
        self.wait_row_status('volumes', clone, 'Available')
        self.shot('clone-available')
        self.assertContent(STACK_PATH(clone), at_s1)

        # Delete snapshot 1: gone from the table, its file stays for 2.
        s1_file = base.STACK.snap_file(vid, s1)
        self.assertTrue(os.path.exists(s1_file), s1_file)
        self.delete_snapshot_ui(s1)
        self.assertTrue(os.path.exists(s1_file),
                        'snapshot 2 builds on %s' % s1_file)
        self.assertContent(base.STACK.snap_file(vid, s2), at_s2)

        # Delete the rest: nothing left on the share.
        self.delete_snapshot_ui(s2)
        self.open('/project/volumes/')
        for v in (vid, clone):
            # Horizon's themed check box: its label takes the click.
            self.row('volumes', v).find_element(
                By.CSS_SELECTOR, 'td.multi_select_column label').click()
        self.click('#volumes__action_delete')
        self.modal()
        self.shot('delete-volumes-dialog')
        self.submit_modal()
        for v in (vid, clone):
            base.STACK.wait_gone('volume', v)
        self.open('/project/volumes/')
        self.shot('all-deleted')
        for v in (vid, clone, s1, s2):
            self.assertEqual([], base.STACK.files_named(v))

    def delete_snapshot_ui(self, sid):
        self.open('/project/snapshots/')
        self.row_action(SNAPS, sid, 'delete')
        self.modal()
        self.submit_modal()
        base.STACK.wait_gone('volume snapshot', sid)
        self.open('/project/snapshots/')
        self.assertEqual([], self.driver.find_elements(
            By.CSS_SELECTOR, '#%s tr[data-object-id="%s"]' % (SNAPS, sid)))
        self.shot('snapshot-deleted')


def STACK_PATH(volume_id):
    return base.STACK.volume_path(volume_id)
