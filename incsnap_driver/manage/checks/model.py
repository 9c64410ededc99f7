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
"""The plain values the checks read and the problems they report."""

import dataclasses
import typing

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver.qemu import img

ERROR = 'error'
WARNING = 'warning'
INFO = 'info'

# Entry types.
FILE = 'file'
DIR = 'dir'
SYMLINK = 'symlink'
OTHER = 'other'


@dataclasses.dataclass
class Entry:
    """One name in a directory, as lstat saw it (symlinks not followed)."""

    name: str
    type: str = FILE
    allocated: int = 0          # st_blocks * 512
    age: float = 1e9            # seconds since last modification
    link_target: typing.Optional[str] = None
    link_inside: bool = False   # the link resolves inside the share


@dataclasses.dataclass
class ImageFacts:
    """What qemu-img says about one image (``info -U``, ``check -U``)."""

    format: typing.Optional[str] = 'qcow2'
    compat: typing.Optional[str] = img.QCOW2_V3
    backing: typing.Optional[str] = None   # backing-filename as stored
    bitmaps: list = dataclasses.field(default_factory=list)
    check_errors: int = 0                  # corruptions + check errors
    check_leaks: int = 0
    checked: bool = True                   # qemu-img check was run
    error: typing.Optional[str] = None     # qemu-img could not read it


@dataclasses.dataclass
class VolumeScan:
    """Everything read about one volume (file and/or snapshot folder)."""

    volume_id: str
    volume: typing.Optional[Entry] = None      # None: no volume file
    volume_image: typing.Optional[ImageFacts] = None
    open_by: list = dataclasses.field(default_factory=list)
    folder: typing.Optional[Entry] = None      # None: no snapshot folder
    chain: typing.Optional[chain_mod.Chain] = None
    chain_error: typing.Optional[str] = None
    entries: dict = dataclasses.field(default_factory=dict)  # name: Entry
    images: dict = dataclasses.field(default_factory=dict)   # name: facts

    @property
    def volume_file(self):
        return layout.volume_file(self.volume_id)

    @property
    def folder_name(self):
        return layout.snapshot_dir(self.volume_file)

    def in_folder(self, name):
        return '%s/%s' % (self.folder_name, name)


@dataclasses.dataclass
class Problem:
    severity: str
    code: str
    message: str
    volume: typing.Optional[str] = None
    snapshot: typing.Optional[str] = None
    file: typing.Optional[str] = None      # relative to the share

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ShareListing:
    """The share's top level, sorted by what each name is."""

    volumes: dict = dataclasses.field(default_factory=dict)   # id: Entry
    folders: dict = dataclasses.field(default_factory=dict)   # id: Entry
    parts: list = dataclasses.field(default_factory=list)     # Entry
    ignored: list = dataclasses.field(default_factory=list)   # Entry


@dataclasses.dataclass
class Orphan:
    path: str           # relative to the share
    reason: str
    volume: typing.Optional[str] = None
    entry: typing.Optional[Entry] = None
    is_folder: bool = False


def symlink_text(entry):
    """Why a symlink is reported, and what the operator should do."""
    where = 'inside' if entry.link_inside else 'OUTSIDE'
    return ('symlink to %r (%s the share): never followed, never deleted '
            'through; remove it by hand' % (entry.link_target, where))
