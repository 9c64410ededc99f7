#!/usr/bin/env python3
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
"""The incsnap snapshot lifecycle, shown with the real openstack CLI.

Run by ``tools/aio demo`` after ``tools/aio up``, with AIO_DIR and the
admin cloud (OS_CLOUD, OS_CLIENT_CONFIG_FILE) in the environment, as root
(it writes into the volume's file on the export, standing in for a VM).
Everything it creates is deleted at the end, also when a step fails.
"""

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid

AIO = os.environ['AIO_DIR']
# The exports behind the backend's two shares (one pool each).
EXPORTS = [os.path.join(AIO, 'export'), os.path.join(AIO, 'export-2')]
MiB = 1024 ** 2
TAG = uuid.uuid4().hex[:6]
created = []   # (kind, id), deleted in reverse order at the end


BOLD, PLAIN = ('\033[1m', '\033[0m') if sys.stdout.isatty() else ('', '')


def heading(text):
    print('\n%s== %s%s' % (BOLD, text, PLAIN), flush=True)


def note(text):
    print('   -> %s' % text, flush=True)


def run(*cmd, show=True, check=True):
    if show:
        print('$ %s' % ' '.join(shlex.quote(c) for c in cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode:
        sys.exit('demo: command failed (%d): %s\n%s%s' % (
            proc.returncode, ' '.join(cmd), proc.stdout, proc.stderr))
    return proc


def osc(*args, show=True):
    out = run('openstack', *args, '-f', 'json', show=show).stdout
    return json.loads(out) if out.strip() else None


def wait(kind, ident, want, gone=False):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        proc = run('openstack', *kind.split(), 'show', ident, '-f', 'json',
                   show=False, check=False)
        if proc.returncode:
            if gone:
                return
            sys.exit('demo: %s %s: %s' % (kind, ident, proc.stderr))
        status = json.loads(proc.stdout)['status']
        if not gone and status == want:
            return
        if status.startswith('error'):
            sys.exit('demo: %s %s went to %s' % (kind, ident, status))
        time.sleep(1)
    sys.exit('demo: %s %s not %s in time' % (kind, ident, want))


def vol_file(vid):
    """The volume's file, on the share the scheduler chose."""
    paths = [os.path.join(e, 'volume-%s' % vid) for e in EXPORTS]
    return next((p for p in paths if os.path.exists(p)), paths[0])


def snap_file(vid, sid):
    return os.path.join(vol_file(vid) + '.incsnap',
                        'snapshot-%s.qcow2' % sid)


def mib(path):
    return '%.1f MiB' % (os.stat(path).st_blocks * 512 / MiB)


def guest_write(vid, byte, offset, length):
    run('qemu-io', '-f', 'qcow2', '-c',
        'write -q -P 0x%02x %d %d' % (byte, offset, length), vol_file(vid),
        show=False)


def show(*cmd):
    """Run a command and print its output, indented."""
    out = run(*cmd).stdout.rstrip()
    if out:
        print('\n'.join('   ' + line for line in out.splitlines()))


def snapshot(vid, name):
    snap = osc('volume', 'snapshot', 'create', '--volume', vid, name)
    created.append(('volume snapshot', snap['id']))
    wait('volume snapshot', snap['id'], 'available')
    props = osc('volume', 'snapshot', 'show', snap['id'], '-c', 'status',
                '-c', 'properties')
    print(json.dumps(props, indent=2, sort_keys=True))
    return snap['id'], props['properties']


def delete(kind, ident):
    run('openstack', *kind.split(), 'delete', ident)
    wait(kind, ident, None, gone=True)
    created.remove((kind, ident))


def lifecycle(tmp):
    heading('1. Create a 1 GiB volume')
    vol = osc('volume', 'create', '--size', '1', 'demo-vol-%s' % TAG)
    vid = vol['id']
    created.append(('volume', vid))
    wait('volume', vid, 'available')
    note('Cinder made it a qcow2 v3 file on the share: %s' % vol_file(vid))

    heading('2. Write data into it')
    note('the volume is detached: qemu-io on its file stands in for a VM '
         "writing to its disk (64 MiB of 0xa1)")
    print('$ qemu-io -f qcow2 -c "write -P 0xa1 0 64M" %s' % vol_file(vid))
    guest_write(vid, 0xa1, 0, 64 * MiB)

    heading('3. Snapshot: the first one is full')
    s1, p1 = snapshot(vid, 'demo-snap1-%s' % TAG)
    note('incsnap:kind=%s, incsnap:full_reason=%s; its file holds %s'
         % (p1.get('incsnap:kind'), p1.get('incsnap:full_reason'),
            mib(snap_file(vid, s1))))

    heading('4. Write 4 MiB more, snapshot again: incremental')
    print('$ qemu-io -f qcow2 -c "write -P 0xb2 128M 4M" %s' % vol_file(vid))
    guest_write(vid, 0xb2, 128 * MiB, 4 * MiB)
    s2, p2 = snapshot(vid, 'demo-snap2-%s' % TAG)
    note('incsnap:kind=%s, incsnap:parent=%s (snapshot 1), '
         'incsnap:chain_depth=%s'
         % (p2.get('incsnap:kind'), p2.get('incsnap:parent'),
            p2.get('incsnap:chain_depth')))
    show('du', '-ah', vol_file(vid), os.path.dirname(snap_file(vid, s2)))
    note('on the share: volume %s, snapshot 1 %s, snapshot 2 only %s '
         '(just the clusters written since snapshot 1)'
         % (mib(vol_file(vid)), mib(snap_file(vid, s1)),
            mib(snap_file(vid, s2))))

    heading('5. Junk over the data, then revert to the newest snapshot')
    good = os.path.join(tmp, 'before-junk.qcow2')
    run('qemu-img', 'convert', '-O', 'qcow2', vol_file(vid), good)
    note('a copy of the volume as it is now: %s' % good)
    print('$ qemu-io -f qcow2 -c "write -P 0xee 0 200M" %s' % vol_file(vid))
    guest_write(vid, 0xee, 0, 200 * MiB)
    proc = run('qemu-img', 'compare', '-q', vol_file(vid), good,
               check=False)
    note('qemu-img compare: %s' % ('differs (the junk)' if proc.returncode
                                   else 'identical?!'))
    run('openstack', '--os-volume-api-version', '3.40', 'volume', 'revert',
        s2)
    wait('volume', vid, 'available')
    show('qemu-img', 'compare', vol_file(vid), good)
    note('identical again: the revert copied back only the clusters the '
         "volume's bitmap marks as written since snapshot 2")

    heading('6. A new volume from snapshot 1')
    new = osc('volume', 'create', '--snapshot', s1, '--size', '1',
              'demo-from-snap1-%s' % TAG)
    created.append(('volume', new['id']))
    wait('volume', new['id'], 'available')
    first = os.path.join(tmp, 'snap1.raw')
    run('qemu-img', 'convert', '-O', 'raw', snap_file(vid, s1), first)
    show('qemu-img', 'compare', '-F', 'raw', vol_file(new['id']), first)
    note("an independent volume (no backing file) with snapshot 1's data")

    heading('7. Delete snapshot 1 while snapshot 2 depends on it')
    delete('volume snapshot', s1)
    show('openstack', 'volume', 'snapshot', 'list', '--volume', vid,
         '-c', 'ID', '-c', 'Name', '-c', 'Status')
    note('gone from the API, but its file stays, hidden, for snapshot 2: '
         '%s exists: %s' % (os.path.basename(snap_file(vid, s1)),
                            os.path.exists(snap_file(vid, s1))))
    show('ls', os.path.dirname(snap_file(vid, s2)))

    heading('8. Delete the rest')
    delete('volume snapshot', s2)
    note('snapshot 2 gone, and with it the hidden snapshot 1: files left '
         'of the snapshots: %s'
         % [f for f in (snap_file(vid, s1), snap_file(vid, s2))
            if os.path.exists(f)])
    for v in (new['id'], vid):
        delete('volume', v)
    left = [f for e in EXPORTS for f in os.listdir(e)
            if vid in f or new['id'] in f]
    note('files of both volumes left on the share: %s' % left)


def cleanup():
    for kind, ident in reversed(list(created)):
        run('openstack', *kind.split(), 'delete', ident, show=False,
            check=False)
        wait(kind, ident, None, gone=True)


def main():
    tmp = tempfile.mkdtemp(prefix='incsnap-demo-')
    try:
        lifecycle(tmp)
    finally:
        if created:
            print('\ncleaning up what the demo created', flush=True)
            cleanup()
        subprocess.run(['rm', '-rf', tmp])
    heading('Done: full, incremental, revert, volume from snapshot, '
            'hidden parent, cascade delete')


if __name__ == '__main__':
    main()
