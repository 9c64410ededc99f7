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
"""What qemu-img says of an image file, and whether two read the same.

Every call reads with ``-U`` (force share): the image may be open in a
running QEMU or a storage daemon.
"""

import json
import subprocess

from tests.common import commands


def info(path):
    """``qemu-img info`` as a dict."""
    return json.loads(commands.run('qemu-img', 'info', '-U',
                                   '--output=json', path))


def bitmaps(path):
    """``{name: flags}`` of the persistent bitmaps in a qcow2 file."""
    data = info(path).get('format-specific', {}).get('data', {})
    return {b['name']: b['flags'] for b in data.get('bitmaps', [])}


def bitmap_names(path):
    """The names of the bitmaps in ``path``, in the image's order."""
    data = info(path).get('format-specific', {}).get('data', {})
    return [b['name'] for b in data.get('bitmaps', [])]


def allocated_bytes(path):
    """Bytes of guest data stored in ``path`` itself (not its backing)."""
    extents = json.loads(commands.run('qemu-img', 'map', '-U',
                                      '--output=json', path))
    return sum(e['length'] for e in extents
               if e.get('depth') == 0 and e.get('data'))


def flat_copy(path, dest):
    """A qcow2 copy of what ``path`` (and its backing chain) reads now."""
    commands.run('qemu-img', 'convert', '-U', '-O', 'qcow2', path, dest)
    return dest


def _compare(path, reference, path_format, reference_format, *options):
    cmd = ['qemu-img', 'compare', '-U', *options]
    if path_format:
        cmd += ['-f', path_format]
    if reference_format:
        cmd += ['-F', reference_format]
    return subprocess.run(cmd + [path, reference], capture_output=True,
                          text=True)


def assert_same_content(path, reference, path_format=None,
                        reference_format=None):
    """``path`` (through its backing chain) reads exactly as ``reference``.

    Formats are probed unless given; a raw model of a disk needs
    ``reference_format='raw'``.
    """
    proc = _compare(path, reference, path_format, reference_format)
    if proc.returncode != 0:
        raise AssertionError('content differs: %s vs %s: %s%s' % (
            path, reference, proc.stdout, proc.stderr))


def assert_different_content(path, reference):
    """The two read differently (``qemu-img compare`` exits 1)."""
    proc = _compare(path, reference, None, None, '-q')
    if proc.returncode != 1:
        raise AssertionError('%s and %s: qemu-img compare exited %d, not 1 '
                             '(different): %s' % (path, reference,
                                                  proc.returncode,
                                                  proc.stderr))
