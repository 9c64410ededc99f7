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
"""Raw views of volumes and snapshots for cinder-backup, and the manifest.

Cinder's backup manager reads (backup) or writes (restore) the file the
volume driver's connection info names. For this driver that is a raw
view (:mod:`incsnap_driver.qemu.views`) of the qcow2 volume or snapshot,
in a folder of its own under the views root::

    <views root>/volume-<id>/disk                 the view (a FUSE export)
    <views root>/volume-<id>/incsnap-backup.json  the manifest (backups)
    <views root>/volume-<id>/daemon               its daemon's work folder

The decisions (bitmaps, extents, reasons) are
:mod:`incsnap_driver.ops.backup_point`'s. Callers hold the volume's lock.
"""

import json
import os
import shutil
import tempfile

from cinder.i18n import _
from oslo_concurrency import processutils
from oslo_log import log as logging

from incsnap_driver.ops import backup_point
from incsnap_driver.ops import errors
from incsnap_driver.qemu import bitmaps as bitmaps_mod
from incsnap_driver.qemu import daemon as daemon_mod
from incsnap_driver.qemu import extents as extents_mod
from incsnap_driver.qemu import img
from incsnap_driver.qemu import views

LOG = logging.getLogger(__name__)

VIEWS_DIR = 'incsnap-views'
VIEW_FILE = 'disk'
DAEMON_FILE = 'daemon'
VOLUME = 'volume'
SNAPSHOT = 'snapshot'


def views_root(mount_point_base):
    return os.path.join(mount_point_base, VIEWS_DIR)


def view_dir(root, kind, obj_id):
    return os.path.join(root, '%s-%s' % (kind, obj_id))


def view_path(root, kind, obj_id):
    return os.path.join(view_dir(root, kind, obj_id), VIEW_FILE)


def _prepare(backend, root, kind, obj_id):
    folder = view_dir(root, kind, obj_id)
    os.makedirs(root, mode=0o755, exist_ok=True)
    if os.path.isdir(folder):
        close_view(backend, root, kind, obj_id)
    os.makedirs(folder, mode=0o755)
    path = os.path.join(folder, VIEW_FILE)
    with open(path, 'w'):
        pass
    return folder, path


def _write_manifest(folder, document):
    fd, tmp = tempfile.mkstemp(prefix='.manifest-', dir=folder)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(document, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(folder, backup_point.MANIFEST))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def prepare_point(backend, image_path, request):
    """Settle the backup's bitmaps on the volume; the manifest's content.

    ``image_path``: the volume file (for a snapshot backup only its size
    is read). Returns the manifest dict.
    """
    info = img.info(image_path, execute=backend.execute)
    states = bitmaps_mod.from_header(img.bitmaps(info))
    plan = backup_point.plan(request, states)
    size = int(info.get('virtual-size', 0))
    granularity = int(info.get('cluster-size') or 65536)
    found, reason = None, plan.reason
    if plan.extents_from:
        try:
            found, granularity = extents_mod.dirty_extents(
                image_path, plan.extents_from, execute=backend.execute,
                owner_uid=backend.owner_uid, owner=backend.owner())
        except (daemon_mod.DaemonError, processutils.ProcessExecutionError,
                ValueError) as exc:
            LOG.warning('Volume %(vol)s: cannot read bitmap %(bm)s (%(err)s)'
                        '; the backup reads the whole volume.',
                        {'vol': request.volume_id, 'bm': plan.extents_from,
                         'err': exc})
            found, reason = None, ('cannot read bitmap of parent backup '
                                   '%s: %s' % (request.parent_id, exc))
    for name in plan.remove:
        img.bitmap_remove(image_path, name, execute=backend.execute)
    if plan.add:
        img.bitmap_add(image_path, plan.add, execute=backend.execute)
    LOG.info('Backup %(b)s of volume %(vol)s: %(what)s',
             {'b': request.backup_id, 'vol': request.volume_id,
              'what': ('%d dirty extents since parent backup %s'
                       % (len(found), request.parent_id))
              if found is not None else 'whole volume (%s)' % reason})
    document = backup_point.manifest(request, size, granularity, found,
                                     reason)
    LOG.info('Backup %(b)s manifest: %(doc)s',
             {'b': request.backup_id, 'doc': json.dumps(document,
                                                        sort_keys=True)})
    return document


def open_view(backend, root, kind, obj_id, image_path, writable,
              manifest=None):
    """Export ``image_path`` raw in its view folder; the view's path."""
    folder, path = _prepare(backend, root, kind, obj_id)
    try:
        if manifest is not None:
            _write_manifest(folder, manifest)
        record = os.path.join(folder, DAEMON_FILE)
        with open(record + '.tmp', 'w') as f:
            workdir = views.start(image_path, path, writable,
                                  execute=backend.execute,
                                  owner_uid=backend.owner_uid,
                                  owner=backend.owner())
            f.write(workdir)
        os.rename(record + '.tmp', record)
    except (daemon_mod.DaemonError, processutils.ProcessExecutionError,
            OSError) as exc:
        close_view(backend, root, kind, obj_id)
        raise errors.BackendFailed(
            _('cannot export %(kind)s %(id)s raw for cinder-backup: '
              '%(err)s') % {'kind': kind, 'id': obj_id, 'err': exc})
    LOG.info('Raw %(mode)s view of %(kind)s %(id)s for cinder-backup: '
             '%(path)s', {'mode': 'writable' if writable else 'read-only',
                          'kind': kind, 'id': obj_id, 'path': path})
    return path


def has_view(root, kind, obj_id):
    return os.path.isdir(view_dir(root, kind, obj_id))


def close_view(backend, root, kind, obj_id):
    """Stop the view's daemon, unmount, remove its folder (idempotent)."""
    folder = view_dir(root, kind, obj_id)
    if not os.path.isdir(folder):
        return
    execute = backend.execute if backend is not None else (
        processutils.execute)
    workdirs = []
    for name in (DAEMON_FILE, DAEMON_FILE + '.tmp'):
        try:
            with open(os.path.join(folder, name)) as f:
                workdirs.append(f.read().strip())
        except FileNotFoundError:
            pass
    views.stop(workdirs, os.path.join(folder, VIEW_FILE), execute=execute)
    shutil.rmtree(folder)
    LOG.info('Raw view of %(kind)s %(id)s closed.',
             {'kind': kind, 'id': obj_id})


def close_all(backend, root):
    """Close every view left (cinder-volume restarted): at start-up."""
    if not os.path.isdir(root):
        return []
    closed = []
    for name in sorted(os.listdir(root)):
        kind, _sep, obj_id = name.partition('-')
        if kind in (VOLUME, SNAPSHOT) and obj_id:
            LOG.warning('Closing the raw view %s left by an earlier '
                        'cinder-volume.', name)
            close_view(backend, root, kind, obj_id)
            closed.append(name)
    return closed
