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
"""Browser tests: Horizon of the all-in-one stack in headless Chromium.

Chromium and its chromedriver are Debian's (``chromium``,
``chromium-driver``); Selenium (PyPI) is pointed at /usr/bin/chromedriver
and never fetches a driver (SE_OFFLINE).  The user's actions go through
the browser only; the stack's admin CLI (:mod:`tests.common.stack`) sets
up what a test needs besides and checks Cinder's side, and the files on
the export are compared with ``qemu-img compare``.

Every step saves a screenshot: ``$INCSNAP_BROWSER_ARTIFACTS`` (default
``<repo>/.artifacts/browser``)/<test>/<NN>-<step>.png.

Environment: as :mod:`tests.e2e.base` (INCSNAP_AIO_DIR, AIO_HOST), and
    INCSNAP_CHROMEDRIVER   default /usr/bin/chromedriver
    INCSNAP_CHROMIUM       default /usr/bin/chromium
"""

import json
import os
import re
import shutil
import tempfile
import time
import uuid

from selenium.common import exceptions as se_exc
from selenium import webdriver
from selenium.webdriver.chrome import service as chrome_service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support import ui
import testtools

from tests.common import commands
from tests.common import guest_writes
from tests.common import images
from tests.common import stack

STACK = stack.Stack.from_environment()
TIMEOUT = stack.TIMEOUT
GiB = 1024 ** 3
MiB = 1024 ** 2
ARTIFACTS = os.environ.get(
    'INCSNAP_BROWSER_ARTIFACTS',
    os.path.join(stack.REPO, '.artifacts', 'browser'))
CHROMEDRIVER = os.environ.get('INCSNAP_CHROMEDRIVER',
                              '/usr/bin/chromedriver')
CHROMIUM = os.environ.get('INCSNAP_CHROMIUM', '/usr/bin/chromium')


def start_chromium():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu',
                '--disable-dev-shm-usage', '--window-size=1500,1000',
                '--lang=en-US'):
        opts.add_argument(arg)
    service = chrome_service.Service(executable_path=CHROMEDRIVER)
    return webdriver.Chrome(service=service, options=opts)


class BrowserTestCase(testtools.TestCase):
    """A logged-in Chromium on the stack's dashboard, per test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        STACK.ensure_up()
        addresses = STACK.addresses()
        if 'HORIZON_URL' not in addresses:
            raise RuntimeError('the stack in %s has no dashboard '
                               '(tools/aio up)' % STACK.aio_dir)
        cls.url = addresses['HORIZON_URL'].rstrip('/')
        cls.user = addresses.get('HORIZON_USER', 'demo')
        cls.password = STACK.secrets()['DEMO_PASSWORD']

    def setUp(self):
        super().setUp()
        os.environ['SE_OFFLINE'] = 'true'
        self.driver = start_chromium()
        self.addCleanup(self.driver.quit)
        self.shots = os.path.join(ARTIFACTS, self.id().rsplit('.', 2)[-1])
        shutil.rmtree(self.shots, ignore_errors=True)
        os.makedirs(self.shots)
        self.step = 0
        self.addOnException(self._shot_on_failure)

    def _shot_on_failure(self, exc_info):
        self.shot('FAILED')

    # --- the browser ------------------------------------------------------

    def shot(self, name):
        """Screenshot of the page now: <NN>-<name>.png."""
        self.step += 1
        path = os.path.join(self.shots, '%02d-%s.png' % (self.step, name))
        try:
            self.driver.save_screenshot(path)
        except se_exc.WebDriverException:
            pass
        return path

    def wait(self, condition, timeout=30, what=None):
        return ui.WebDriverWait(self.driver, timeout, 0.3).until(
            condition, what)

    def find(self, css, timeout=30):
        return self.wait(EC.visibility_of_element_located(
            (By.CSS_SELECTOR, css)), timeout, 'no visible %s' % css)

    def click(self, css, timeout=30):
        el = self.wait(EC.element_to_be_clickable((By.CSS_SELECTOR, css)),
                       timeout, 'nothing clickable at %s' % css)
        el.click()
        return el

    def open(self, path):
        self.driver.get(self.url + path)

    def login(self):
        self.open('/auth/login/')
        self.find('#id_username').send_keys(self.user)
        self.find('#id_password').send_keys(self.password)
        self.shot('login')
        self.click('#loginBtn')
        self.wait(lambda d: '/project/volumes' in d.current_url, 60,
                  'not on the Volumes panel after login')
        self.shot('volumes-home')

    def modal(self):
        """The dialog open now, once loaded.

        Horizon first shows 'Loading...' in a dialog without a footer.
        """
        self.find('.modal.in .modal-footer')
        return self.find('.modal.in .modal-content')

    def submit_modal(self):
        self.click('.modal-footer input[type=submit], '
                   '.modal-footer button[type=submit], '
                   '.modal-footer .btn-danger, .modal-footer .btn-primary')

    def wait_modal_gone(self):
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, '.modal.in'),
                  60, 'the dialog stays open')

    def messages(self):
        return [m.text for m in self.driver.find_elements(
            By.CSS_SELECTOR, '.messages .alert, #main_content .alert')]

    def row(self, table, object_id):
        """The row of ``object_id`` in table ``table`` of this page."""
        return self.find('#%s tr[data-object-id="%s"]' % (table, object_id))

    def row_action(self, table, object_id, action):
        """Click a row action (opening the row's menu when it is there)."""
        css = '#%s__row_%s__action_%s' % (table, object_id, action)
        row = self.row(table, object_id)
        link = self.driver.find_element(By.CSS_SELECTOR, css)
        if not link.is_displayed():
            row.find_element(By.CSS_SELECTOR, '.dropdown-toggle').click()
            self.wait(lambda d: link.is_displayed(), 10, 'no %s' % css)
        link.click()

    def row_status(self, table, object_id):
        cell = self.row(table, object_id).find_element(
            By.CSS_SELECTOR, 'td.status_up, td.status_down, '
                             'td.status_unknown, td[data-cell-name=status]')
        return cell.text.strip()

    def wait_row_status(self, table, object_id, want, timeout=TIMEOUT):
        """Until the row (Horizon refreshes it) shows status ``want``."""
        seen = []

        def settled(driver):
            try:
                status = self.row_status(table, object_id)
            except (se_exc.StaleElementReferenceException,
                    se_exc.NoSuchElementException):
                return False
            if not seen or seen[-1] != status:
                seen.append(status)
            return status == want or status.lower().startswith('error')
        self.wait(settled, timeout, 'row %s not %s' % (object_id, want))
        self.assertEqual(want, seen[-1], seen)
        return seen

    def row_id_by_name(self, table, name, timeout=60):
        xpath = ('//table[@id="%s"]//tr[@data-object-id][.//a[normalize-'
                 'space(text())="%s"]]' % (table, name))
        row = self.wait(EC.presence_of_element_located((By.XPATH, xpath)),
                        timeout, 'no row %s in %s' % (name, table))
        return row.get_attribute('data-object-id')

    def cell(self, table, object_id, css_class):
        """A cell of the row, by its column's class (the plugin's)."""
        return self.row(table, object_id).find_element(
            By.CSS_SELECTOR, 'td.%s' % css_class).text.strip()

    # --- what the user does -------------------------------------------------

    def unique_name(self, kind):
        return 'ui-%s-%s' % (kind, uuid.uuid4().hex[:6])

    def fill(self, css, text):
        el = self.find(css)
        el.clear()
        el.send_keys(text)

    def create_volume_ui(self, name, size_gb=1):
        self.open('/project/volumes/')
        self.click('#volumes__action_create')
        self.modal()
        self.fill('#id_name', name)
        self.fill('#id_size', str(size_gb))
        self.shot('create-volume-dialog')
        self.submit_modal()
        self.wait_modal_gone()
        vid = self.row_id_by_name('volumes', name)
        self.addCleanup(STACK.delete_quietly, 'volume', vid)
        self.wait_row_status('volumes', vid, 'Available')
        return vid

    def create_snapshot_ui(self, volume_id, name):
        """From the volume's row action; lands on the Snapshots table."""
        self.open('/project/volumes/')
        self.row_action('volumes', volume_id, 'snapshots')
        self.modal()
        self.fill('#id_name', name)
        self.submit_modal()
        self.wait(lambda d: '/project/snapshots' in d.current_url, 60,
                  'not on the Snapshots panel after creating a snapshot')
        sid = self.row_id_by_name('volume_snapshots', name)
        self.addCleanup(STACK.delete_quietly, 'volume snapshot', sid)
        return sid

    def detail_field(self, css):
        return self.find('.incsnap-chain ' + css).text.strip()

    # --- the data ------------------------------------------------------------

    def new_model(self, name, size_gb=1):
        if not hasattr(self, '_model_dir'):
            self._model_dir = tempfile.mkdtemp(prefix='incsnap-browser-')
            self.addCleanup(shutil.rmtree, self._model_dir, True)
        return guest_writes.Model(os.path.join(self._model_dir, name),
                                  size_gb * GiB)

    def offline_write(self, volume_id, offset, length, byte, model=None):
        """Write into a detached volume's file (stands in for a VM)."""
        guest_writes.offline_write(STACK.volume_path(volume_id), offset,
                                   length, byte)
        if model is not None:
            model.write(offset, length, byte)

    def assertContent(self, path, model):
        images.assert_same_content(path, model, 'qcow2', 'raw')

    def wait_cli_status(self, kind, ident, want):
        return STACK.wait_status(kind, ident, want)

    # --- setting up as the demo user (the CLI, not the browser) ---------

    def demo_cli(self, *args):
        """``openstack ARGS`` as the dashboard's user (JSON output)."""
        return json.loads(self.demo_cli_text(*args, '-f', 'json'))

    def demo_cli_text(self, *args):
        """``openstack ARGS`` as the dashboard's user (its output)."""
        addresses = STACK.addresses()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env.update(OS_AUTH_TYPE='password',
                   OS_AUTH_URL=addresses['KEYSTONE_URL'],
                   OS_IDENTITY_API_VERSION='3',
                   OS_USERNAME=self.user, OS_PASSWORD=self.password,
                   OS_PROJECT_NAME=addresses.get('HORIZON_PROJECT', 'demo'),
                   OS_USER_DOMAIN_NAME='Default',
                   OS_PROJECT_DOMAIN_NAME='Default',
                   OS_VOLUME_API_VERSION='3')
        return commands.run(STACK.openstack_cli, *args, env=env,
                            timeout=120)

    def demo_volume(self):
        vid = self.demo_cli('volume', 'create', '--size', '1',
                            self.unique_name('vol'))['id']
        self.addCleanup(STACK.delete_quietly, 'volume', vid)
        STACK.wait_status('volume', vid, 'available')
        return vid

    def demo_snapshot(self, volume_id):
        """A snapshot, available; its id (its name in self.names)."""
        name = self.unique_name('snap')
        sid = self.demo_cli('volume', 'snapshot', 'create', '--volume',
                            volume_id, name)['id']
        if not hasattr(self, 'names'):
            self.names = {}
        self.names[sid] = name
        self.addCleanup(STACK.delete_quietly, 'volume snapshot', sid)
        STACK.wait_status('volume snapshot', sid, 'available')
        return sid


def poll(fn, timeout=TIMEOUT, interval=1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def words(text):
    return re.sub(r'\s+', ' ', text or '').strip()
