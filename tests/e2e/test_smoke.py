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
"""Smoke test of the stack: volume and snapshot lifecycle through the CLI."""

import json
import os
import re
import subprocess

from tests.common import processes
from tests.e2e import base


def stack_pids():
    """The stack's processes: those of its PID files and their children."""
    run_dir = os.path.join(base.STACK.aio_dir, 'run')
    todo = []
    for name in os.listdir(run_dir):
        if name.endswith('.pid'):
            with open(os.path.join(run_dir, name)) as f:
                text = f.read().strip()
            if text.isdigit() and processes.running(int(text)):
                todo.append(int(text))
    pids = set()
    while todo:
        pid = todo.pop()
        if pid not in pids:
            pids.add(pid)
            todo += processes.children(pid)
    return pids


def listening(pids):
    """(address, port) of the TCP sockets ``pids`` listen on."""
    out = subprocess.run(['ss', '-Hltnp'], capture_output=True, text=True,
                         check=True).stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        owners = {int(p) for p in re.findall(r'pid=(\d+)', line)}
        if owners & pids:
            address, _sep, port = fields[3].rpartition(':')
            found.add((address, int(port)))
    return found


class TestStack(base.E2ETestCase):

    def test_listens_on_its_address_only(self):
        # tools/aio's AIO_HOST, as the stack recorded it.
        host = base.STACK.addresses()['AIO_HOST']
        sockets = listening(stack_pids())
        self.assertEqual({host}, {a for a, _p in sockets}, sockets)
        # PostgreSQL, Keystone, Cinder, RabbitMQ at least: not vacuous.
        self.assertLessEqual({15432, 5000, 8776, 5672},
                             {p for _a, p in sockets}, sockets)

    def test_catalog_on_its_address(self):
        host = base.STACK.addresses()['AIO_HOST']
        catalog = self.openstack('catalog', 'list')
        urls = {entry['Type']: re.findall(r'https?://([^:/"]+)',
                                          json.dumps(entry['Endpoints']))
                for entry in catalog}
        for service in ('identity', 'volumev3'):
            self.assertTrue(urls.get(service), catalog)
            self.assertEqual({host}, set(urls[service]), catalog)

    def test_services_up(self):
        services = self.openstack('volume', 'service', 'list')
        states = {(s['Binary'], s['Host']): s['State'] for s in services}
        self.assertEqual('up', states.get(('cinder-scheduler', 'aio')),
                         services)
        self.assertEqual('up', states.get(('cinder-volume', 'aio@incsnap')),
                         services)

    def test_volume_and_snapshot_lifecycle(self):
        # No --type: the stack makes "incsnap" the default type.
        vol = self.create_volume(size_gb=1)
        vid = vol['id']
        seen = self.wait_status('volume', vid, 'available')
        self.assertNotIn('error', seen)

        shown = self.openstack('volume', 'show', vid)
        self.assertEqual(1, shown['size'])
        self.assertEqual('incsnap', shown['type'])
        self.assertTrue(shown['os-vol-host-attr:host'].startswith(
            'aio@incsnap#'), shown['os-vol-host-attr:host'])

        # The volume is a qcow2 file in the root of the share, 1 GiB.
        path = self.volume_path(vid)
        self.assertTrue(os.path.isfile(path),
                        'no %s; export holds %s'
                        % (path, self.files_named('')))
        info = self.qemu_img_info(path)
        self.assertEqual('qcow2', info['format'])
        self.assertEqual(base.GiB, info['virtual-size'])

        snap = self.create_snapshot(vid)
        sid = snap['id']
        seen = self.wait_status('volume snapshot', sid, 'available')
        self.assertNotIn('error', seen)
        self.assertEqual(vid, self.openstack('volume', 'snapshot', 'show',
                                             sid)['volume_id'])
        # Whatever the driver's layout, the snapshot's data is a file on
        # the share named after it.
        snap_files = self.files_named(sid)
        self.assertNotEqual([], snap_files,
                            'no file named after snapshot %s: %s'
                            % (sid, self.files_named('')))

        self.openstack('volume', 'snapshot', 'delete', sid, parse=False)
        seen = self.wait_gone('volume snapshot', sid)
        self.assertNotIn('error_deleting', seen)
        self.assertEqual([], self.files_named(sid))
        self.assertEqual('available', self.openstack('volume', 'show',
                                                     vid)['status'])

        self.openstack('volume', 'delete', vid, parse=False)
        seen = self.wait_gone('volume', vid)
        self.assertNotIn('error_deleting', seen)
        self.assertEqual([], self.files_named(vid))
