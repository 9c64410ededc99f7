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
"""One function per qemu-img verb.

Every function takes the command runner ``execute`` (a callable with the
signature of ``oslo_concurrency.processutils.execute``; the driver passes
Cinder's, bound to its root helper) and builds an argument list: no shell
is ever involved. Output meant for programs is read as JSON.

Facts used here (QEMU 7.2):

* ``-U`` (force share) lets a reader open an image another process holds
  open for writing; it is needed to inspect a volume a QEMU has open.
* Persistent dirty bitmaps need qcow2 ``compat=1.1`` (v3).
* ``qemu-img rebase -u`` rewrites only the backing file name in the header.
* A backing file name is stored as written; a relative name is resolved
  against the directory of the image that names it.
"""

import json

from oslo_concurrency import processutils

QCOW2_V3 = '1.1'


def info(path, execute=processutils.execute, backing_chain=False,
         force_share=True, fmt=None):
    """``qemu-img info --output=json``: a dict, or a list with the chain."""
    cmd = ['qemu-img', 'info', '--output=json']
    if force_share:
        cmd.append('-U')
    if fmt:
        cmd += ['-f', fmt]
    if backing_chain:
        cmd.append('--backing-chain')
    cmd.append(path)
    out, _err = execute(*cmd)
    return json.loads(out)


def bitmaps(image_info):
    """The persistent bitmaps listed in a qcow2 ``info()`` result."""
    specific = image_info.get('format-specific') or {}
    if specific.get('type') != 'qcow2':
        return []
    return list((specific.get('data') or {}).get('bitmaps') or [])


def qcow2_compat(image_info):
    """'1.1' for qcow2 v3, '0.10' for v2, None when not qcow2."""
    specific = image_info.get('format-specific') or {}
    if specific.get('type') != 'qcow2':
        return None
    return (specific.get('data') or {}).get('compat')


def create(path, size_bytes, execute=processutils.execute, fmt='qcow2',
           backing_file=None, backing_fmt='qcow2', preallocation=None):
    """``qemu-img create``; qcow2 images are always v3 (compat=1.1)."""
    cmd = ['qemu-img', 'create', '-q', '-f', fmt]
    options = []
    if fmt == 'qcow2':
        options.append('compat=%s' % QCOW2_V3)
    if preallocation:
        options.append('preallocation=%s' % preallocation)
    if options:
        cmd += ['-o', ','.join(options)]
    if backing_file:
        # -u: the backing file is not opened (its size is not needed, the
        # new image gets size_bytes).
        cmd += ['-u', '-b', backing_file, '-F', backing_fmt]
    cmd += [path, str(int(size_bytes))]
    execute(*cmd)


def convert(src, dest, execute=processutils.execute, out_fmt='qcow2',
            src_fmt=None, sparse=True, extra_options=None, rate_limit=0,
            owner=None, bitmaps=False):
    """``qemu-img convert``: reads through the whole backing chain.

    The result is an independent image (no backing file). qcow2 targets are
    v3 so that they can hold bitmaps. ``rate_limit``: bytes per second
    (0: unlimited). ``owner``: the
    :class:`~incsnap_driver.qemu.owner.Owner` marked on the command line.
    ``bitmaps``: copy the source's persistent bitmaps too (the source is
    a single file then, not a chain); an inconsistent one is left behind,
    as it holds nothing usable.
    """
    cmd = ['qemu-img', 'convert']
    if owner is not None:
        cmd += owner.args()
    cmd.append('-U')
    if src_fmt:
        cmd += ['-f', src_fmt]
    cmd += ['-O', out_fmt]
    options = list(extra_options or [])
    if out_fmt == 'qcow2':
        options.insert(0, 'compat=%s' % QCOW2_V3)
    if options:
        cmd += ['-o', ','.join(options)]
    if not sparse:
        cmd += ['-S', '0']
    if rate_limit:
        cmd += ['-r', str(int(rate_limit))]
    if bitmaps:
        cmd += ['--bitmaps', '--skip-broken-bitmaps']
    cmd += [src, dest]
    execute(*cmd)


def resize(path, size_bytes, execute=processutils.execute, fmt='qcow2'):
    """``qemu-img resize``; qcow2 persistent bitmaps grow with the image."""
    execute('qemu-img', 'resize', '-q', '-f', fmt, path, str(int(size_bytes)))


def rebase_unsafe(path, backing_file, execute=processutils.execute,
                  backing_fmt='qcow2'):
    """Point ``path`` at ``backing_file`` without touching any data."""
    execute('qemu-img', 'rebase', '-q', '-u', '-f', 'qcow2',
            '-F', backing_fmt, '-b', backing_file, path)


def bitmap_add(path, name, execute=processutils.execute):
    """Add an empty persistent bitmap recording every later write."""
    execute('qemu-img', 'bitmap', '--add', '-f', 'qcow2', path, name)


def bitmap_remove(path, name, execute=processutils.execute):
    """Remove a persistent bitmap (also one left inconsistent)."""
    execute('qemu-img', 'bitmap', '--remove', '-f', 'qcow2', path, name)


def compare(path1, path2, execute=processutils.execute):
    """True when both images read the same (through backing chains)."""
    try:
        execute('qemu-img', 'compare', '-q', '-U', path1, path2)
    except processutils.ProcessExecutionError as exc:
        if exc.exit_code == 1:
            return False
        raise
    return True


def check(path, execute=processutils.execute):
    """``qemu-img check --output=json``: a dict (errors, leaks, ...)."""
    out, _err = execute('qemu-img', 'check', '-U', '--output=json', path,
                        check_exit_code=[0, 2, 3])
    return json.loads(out)


def allocated_bytes(path, execute=processutils.execute):
    """Bytes of guest data stored in ``path`` itself (not its backing)."""
    out, _err = execute('qemu-img', 'map', '-U', '--output=json', path)
    total = 0
    for extent in json.loads(out):
        if extent.get('depth') == 0 and extent.get('data'):
            total += extent['length']
    return total
