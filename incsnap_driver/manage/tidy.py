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
"""Removing what ``gc --delete`` may remove, never through a symlink."""

import os

from incsnap_driver import layout


class UnsafePath(Exception):
    """A path to remove that is not plainly inside the share."""


def _checked_path(share_dir, relative):
    """The absolute path of ``relative``, refused unless plainly inside.

    The file is unlinked, never followed: it must not be a symlink, and its
    folder must be a real folder of the share (no symlink on the way).
    """
    path = os.path.join(share_dir, relative)
    parent = os.path.dirname(path)
    if (not layout.is_inside(share_dir, path) or
            os.path.realpath(parent) != os.path.normpath(parent) or
            os.path.islink(path)):
        raise UnsafePath('is a symlink, inside one, or outside the share '
                         '%s; not removed' % share_dir)
    return path


def remove_orphan(share_dir, orphan):
    """Remove one orphan file or orphan snapshot folder."""
    share_dir = os.path.realpath(share_dir)
    path = _checked_path(share_dir, orphan.path)
    if not orphan.is_folder:
        os.unlink(path)
        return
    # A snapshot folder whose volume is gone: its files one by one (each
    # checked), then the folder; anything unexpected stops it.
    for name in os.listdir(path):
        child = _checked_path(share_dir, os.path.join(orphan.path, name))
        if not os.path.isfile(child):
            raise UnsafePath('%s is not a regular file' % child)
        os.unlink(child)
    os.rmdir(path)
