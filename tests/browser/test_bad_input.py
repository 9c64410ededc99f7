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
"""Bad input in the dashboard: refused with the reason, nothing changes."""

import os
import uuid

from selenium.webdriver.common.by import By

from tests.browser import base

MiB = base.MiB
SNAPS = 'volume_snapshots'
STACK = base.STACK


class TestBadInput(base.BrowserTestCase):

    def revert_link(self, sid):
        return self.driver.find_element(
            By.CSS_SELECTOR, '#%s__row_%s__action_incsnap_revert'
            % (SNAPS, sid))

    def test_revert_refused_with_the_reason(self):
        vid = self.demo_volume()
        model = self.new_model('vol.raw')
        self.offline_write(vid, 0, 1 * MiB, 0x31, model)
        s1 = self.demo_snapshot(vid)
        self.offline_write(vid, 4 * MiB, 1 * MiB, 0x32, model)
        s2 = self.demo_snapshot(vid)
        self.login()

        # An older snapshot: the action is there but disabled, saying why.
        self.open('/project/snapshots/')
        older = self.revert_link(s1)
        self.assertIn('disabled', older.get_attribute('class').split())
        self.assertIn('Only the newest snapshot', older.get_attribute('title'))
        self.assertNotIn('disabled',
                         self.revert_link(s2).get_attribute('class').split())
        self.shot('older-snapshot-disabled')
        # Its dialog, opened anyway (a bookmarked address), only says why.
        self.open('/project/snapshots/%s/incsnap-revert/' % s1)
        refusal = self.find('.incsnap-refusal').text
        self.assertIn('Only the newest snapshot', refusal)
        self.assertEqual([], self.driver.find_elements(
            By.CSS_SELECTOR, '.modal-footer input[type=submit]'))
        self.shot('older-snapshot-refused')

        # From the volume's row: the dialog for its newest snapshot.  The
        # volume is attached between the dialog opening and its
        # confirmation: Cinder's rule, checked again.
        self.open('/project/volumes/')
        self.row_action('volumes', vid, 'incsnap_revert_volume')
        self.assertIn(self.names[s2], self.modal().text)
        self.shot('volume-row-revert-dialog')
        attachment, _info = STACK.attach(vid, str(uuid.uuid4()))
        self.addCleanup(STACK.detach, attachment, check=False)
        STACK.wait_status('volume', vid, 'in-use')
        self.submit_modal()
        error = self.find('.modal.in .alert-danger, .modal.in .error').text
        self.assertIn('in-use', error)
        self.assertIn('available', error)
        self.shot('in-use-refused')
        self.assertEqual('in-use', STACK.status('volume', vid))
        STACK.detach(attachment)
        STACK.wait_status('volume', vid, 'available')
        # Nothing was reverted: the volume holds what was last written.
        self.assertContent(STACK.volume_path(vid), model)

    def test_failed_snapshot_shows_error(self):
        vid = self.demo_volume()
        # The volume's file gone behind Cinder's back: the driver fails
        # the snapshot.
        os.unlink(STACK.volume_path(vid))
        self.login()
        sid = self.create_snapshot_ui(vid, self.unique_name('bad'))
        seen = self.wait_row_status(SNAPS, sid, 'Error')
        self.shot('failed-snapshot-error')
        self.assertEqual('error', STACK.status('volume snapshot', sid))
        self.assertEqual([], self.driver.find_elements(
            By.CSS_SELECTOR, '#%s__row_%s__action_incsnap_revert'
            % (SNAPS, sid)), seen)
        self.assertEqual([], STACK.files_named(sid))

    def test_snapshot_without_incsnap_properties_shows_blanks(self):
        # Another backend's snapshot has no incsnap:* properties: one of
        # ours with them removed stands in for it.
        vid = self.demo_volume()
        sid = self.demo_snapshot(vid)
        self.demo_cli_text('volume', 'snapshot', 'unset',
                           '--property', 'incsnap:kind',
                           '--property', 'incsnap:chain_depth',
                           '--property', 'incsnap:full_reason', sid)
        self.login()
        self.open('/project/snapshots/')
        for column in ('incsnap-kind', 'incsnap-depth', 'incsnap-parent',
                       'incsnap-reason'):
            self.assertEqual('-', self.cell(SNAPS, sid, column), column)
        self.assertEqual('Available', self.row_status(SNAPS, sid))
        self.shot('snapshot-without-properties')
        self.open('/project/snapshots/%s' % sid)
        self.assertEqual('-', self.detail_field('.incsnap-kind'))
        self.assertEqual('-', self.detail_field('.incsnap-parent'))
        self.shot('snapshot-without-properties-page')
