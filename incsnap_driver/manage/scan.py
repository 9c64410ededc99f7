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
"""Read a mounted share into the plain values of :mod:`.checks.model`.

Rules that keep the reading safe on a share someone may have tampered with:

* directories are listed with ``lstat``: a symlink is recorded as one (with
  where it points, and whether that is inside the share), never followed;
* only names of the driver's patterns, all built around canonical UUIDs,
  are ever opened; a chain document that is a symlink is not read;
* ``qemu-img`` opens an image only when it is a regular file; ``qemu-img
  check`` (which opens backing files) runs only when every backing name
  down the chain is a bare name of a regular file in the same folder;
* every ``qemu-img`` call uses ``-U``: reading a volume a VM has open is
  allowed, and no lock is taken that could stop a VM from starting.
"""

import os
import stat
import time

from oslo_concurrency import processutils

from incsnap_driver import layout
from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import share
from incsnap_driver.qemu import img
from incsnap_driver import store


def entry_of(directory, name, share_root, now=None):
    """An :class:`Entry` for ``directory/name``, or None if it is gone."""
    path = os.path.join(directory, name)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    now = time.time() if now is None else now
    entry = model.Entry(name=name, allocated=st.st_blocks * 512,
                        age=max(0.0, now - st.st_mtime))
    if stat.S_ISLNK(st.st_mode):
        entry.type = model.SYMLINK
        entry.link_target = os.readlink(path)
        entry.link_inside = layout.is_inside(share_root, path)
    elif stat.S_ISDIR(st.st_mode):
        entry.type = model.DIR
    elif stat.S_ISREG(st.st_mode):
        entry.type = model.FILE
    else:
        entry.type = model.OTHER
    return entry


def list_dir(directory, share_root, now=None):
    entries = []
    for name in sorted(os.listdir(directory)):
        entry = entry_of(directory, name, share_root, now)
        if entry is not None:
            entries.append(entry)
    return entries


def image_facts(path, execute=processutils.execute):
    """``qemu-img info -U`` of one image (backing files not opened)."""
    try:
        info = img.info(path, execute=execute)
    except (processutils.ProcessExecutionError, OSError,
            ValueError) as exc:
        return model.ImageFacts(format=None, compat=None, checked=False,
                                error=_short(exc))
    return model.ImageFacts(
        format=info.get('format'),
        compat=img.qcow2_compat(info),
        backing=info.get('backing-filename'),
        bitmaps=img.bitmaps(info),
        checked=False)


def run_check(path, facts, execute=processutils.execute):
    """Add ``qemu-img check -U`` results to ``facts``."""
    if facts.format != 'qcow2':
        return
    try:
        result = img.check(path, execute=execute)
    except (processutils.ProcessExecutionError, OSError,
            ValueError) as exc:
        facts.check_errors = max(1, facts.check_errors)
        facts.error = 'qemu-img check failed: %s' % _short(exc)
        return
    facts.checked = True
    facts.check_errors = (int(result.get('corruptions', 0)) +
                          int(result.get('check-errors', 0)))
    facts.check_leaks = int(result.get('leaks', 0))


def _short(exc):
    text = getattr(exc, 'stderr', None) or str(exc)
    return ' '.join(str(text).split())[:300]


def processes_with_open_files():
    """{volume file name: [(label, /proc/PID/fd/N)]} of this host.

    Only descriptors whose target is named like a volume are kept; which
    volume they hold is decided by :func:`holders` on (device, inode), so
    a VM that opened the volume through another mount of the same share
    (Nova mounts it elsewhere) is recognised too.
    """
    found = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        fd_dir = os.path.join('/proc', pid, 'fd')
        try:
            fds = os.listdir(fd_dir)
            with open(os.path.join('/proc', pid, 'comm')) as f:
                comm = f.read().strip()
        except OSError:
            continue
        for fd in fds:
            fd_path = os.path.join(fd_dir, fd)
            try:
                target = os.readlink(fd_path)
            except OSError:
                continue
            name = os.path.basename(target)
            if layout.volume_id_of(name):
                found.setdefault(name, []).append(
                    ('pid %s (%s)' % (pid, comm), fd_path))
    return found


def holders(volume_path, open_files):
    """Labels of the processes that have ``volume_path`` open."""
    candidates = open_files.get(os.path.basename(volume_path), [])
    if not candidates:
        return []
    try:
        st = os.stat(volume_path)
    except OSError:
        return []
    labels = []
    for label, fd_path in candidates:
        try:
            fd_st = os.stat(fd_path)
        except OSError:
            continue
        if ((fd_st.st_dev, fd_st.st_ino) == (st.st_dev, st.st_ino) and
                label not in labels):
            labels.append(label)
    return labels


def _checkable(name, entries, images):
    """True when ``qemu-img check`` of ``name`` opens only safe files."""
    seen = set()
    while name is not None:
        if name in seen:
            return False
        seen.add(name)
        entry = entries.get(name)
        facts = images.get(name)
        if (entry is None or entry.type != model.FILE or facts is None or
                facts.error or layout.snapshot_id_of(name) is None):
            return False
        backing = facts.backing
        if backing is not None and layout.backing_name_problem(backing):
            return False
        name = backing
    return True


def scan_volume(share_dir, volume_id, listing, open_files=None,
                execute=processutils.execute, now=None, deep=True):
    """Read one volume's file, snapshot folder and chain document.

    ``deep``: also run qemu-img (info always when deep, check too).
    """
    volume_id = layout.check_uuid('volume', volume_id)
    scan = model.VolumeScan(volume_id=volume_id,
                            volume=listing.volumes.get(volume_id),
                            folder=listing.folders.get(volume_id))
    volume_path = os.path.join(share_dir, scan.volume_file)
    if scan.volume is not None and scan.volume.type == model.FILE:
        if open_files is not None:
            scan.open_by = holders(volume_path, open_files)
        if deep:
            scan.volume_image = image_facts(volume_path, execute)
            if (not scan.volume_image.error and
                    not scan.volume_image.backing and not scan.open_by):
                # A volume a process writes reads as corrupt to check.
                run_check(volume_path, scan.volume_image, execute)
    if scan.folder is None or scan.folder.type != model.DIR:
        return scan
    folder = os.path.join(share_dir, scan.folder_name)
    scan.entries = {e.name: e for e in list_dir(folder, share_dir, now)}
    doc = scan.entries.get(layout.CHAIN_DOCUMENT)
    if doc is not None and doc.type != model.FILE:
        scan.chain_error = ('chain document %s is not a regular file (%s); '
                            'not read' % (os.path.join(folder,
                                                       layout.CHAIN_DOCUMENT),
                                          doc.type))
        return scan
    try:
        scan.chain = store.ChainStore(folder).load(volume_id)
    except store.ChainDocumentError as exc:
        scan.chain_error = str(exc)
        return scan
    if not deep:
        return scan
    for record in scan.chain.snapshots:
        name = record.file
        entry = scan.entries.get(name)
        if (entry is None or entry.type != model.FILE or
                layout.snapshot_id_of(name) != record.id):
            continue
        scan.images[name] = image_facts(os.path.join(folder, name), execute)
    for name in list(scan.images):
        if _checkable(name, scan.entries, scan.images):
            run_check(os.path.join(folder, name), scan.images[name], execute)
    return scan


def scan_share(share_dir, execute=processutils.execute, deep=True,
               now=None):
    """(ShareListing, [VolumeScan]) of every volume with a snapshot folder.

    Volumes without a snapshot folder have no snapshots: nothing to check
    about chains, so they are left out.
    """
    listing = share.classify_share(list_dir(share_dir, share_dir, now))
    open_files = processes_with_open_files() if deep else None
    scans = []
    for volume_id in sorted(listing.folders):
        scans.append(scan_volume(share_dir, volume_id, listing,
                                 open_files=open_files, execute=execute,
                                 now=now, deep=deep))
    return listing, scans
