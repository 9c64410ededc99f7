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
"""Copy jobs on a volume no VM has open, run by qemu-storage-daemon.

These functions know images, bitmaps and block jobs; they know nothing of
Cinder or of the chain document. Each one leaves no file of its own behind
when it fails, and never leaves the volume's bitmaps inconsistent unless
the daemon itself is killed.

Facts (QEMU 7.2, seen on these machines):

* A QMP ``transaction`` of ``block-dirty-bitmap-add`` and ``blockdev-backup``
  starts the copy and the new bitmap at the same instant: no write can fall
  between them.
* ``sync=incremental`` copies the clusters set in the named bitmap; with the
  default ``bitmap-mode=on-success`` QEMU clears that bitmap when the job
  succeeds and keeps (merges back) its bits when it fails. Bitmaps used this
  way must be on a read-write node.
* ``sync=bitmap`` with ``bitmap-mode=never`` copies the bitmap's clusters and
  leaves the bitmap untouched.
* ``block-dirty-bitmap-merge`` accepts bitmaps of other nodes as sources
  (``{"node": ..., "name": ...}``) when the sizes match: the revert copies
  the volume's bitmap onto the snapshot's node and backs up from there.
* A backup job writes zeroes as zero clusters: a qcow2 target keeps them as
  explicit zero clusters, which do not fall through to a backing file.
* Source and target of a backup must have the same virtual size.
"""

import os

from oslo_concurrency import processutils
from oslo_log import log as logging

from incsnap_driver.qemu import daemon as daemon_mod
from incsnap_driver.qemu import img
from incsnap_driver.qemu import qmp

LOG = logging.getLogger(__name__)

VOLUME_NODE = 'incsnap-volume'
TARGET_NODE = 'incsnap-target'
SNAPSHOT_NODE = 'incsnap-snapshot'
UNDO_NODE = 'incsnap-undo'
REVERT_BITMAP = 'incsnap-revert-tmp'


def _node(name, path, fmt='qcow2', read_only=False, backing=True):
    node = {'node-name': name, 'driver': fmt, 'read-only': read_only,
            'file': {'driver': 'file', 'filename': path}}
    if not backing:
        node['backing'] = None
    return node


def _remove_file(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _remove_bitmaps(daemon, node, names):
    for name in names:
        try:
            daemon.qmp('block-dirty-bitmap-remove', node=node, name=name)
        except qmp.QMPError as exc:
            LOG.warning('Could not remove bitmap %s: %s', name, exc)


class NoSpace(daemon_mod.DaemonError):
    """The share has not enough free space for the copy."""


# qcow2 metadata of a copy: L2 tables, refcounts (1-2% of the data), and
# some slack for the header and the bitmap directory.
SPACE_SLACK_RATIO = 0.02
SPACE_SLACK_BYTES = 4 * 1024 * 1024


def check_space(target_path, needed):
    """Refuse to start a copy of ``needed`` bytes that cannot fit."""
    directory = os.path.dirname(target_path) or '.'
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    want = int(needed * (1 + SPACE_SLACK_RATIO)) + SPACE_SLACK_BYTES
    if want > free:
        raise NoSpace('not enough free space in %s: the copy needs about '
                      '%d MiB, %d MiB are free'
                      % (directory, want // 2 ** 20, free // 2 ** 20))


def _dirty_bytes(qsd, bitmap):
    for state in qsd.bitmaps(VOLUME_NODE):
        if state.get('name') == bitmap:
            return int(state.get('count', 0))
    return 0


def _close_and_remove(qsd, node, path):
    try:
        qsd.qmp('blockdev-del', **{'node-name': node})
    except qmp.QMPError as exc:
        LOG.warning('Could not close %s: %s', path, exc)
    _remove_file(path)


def snapshot(volume_path, target_path, size, timeout,
             volume_fmt='qcow2', backing_file=None, source_bitmap=None,
             new_bitmap=None, drop_bitmaps=(), progress=None, speed=0,
             volume_has_backing=False, execute=processutils.execute,
             owner_uid=None, owner=None, create_execute=None):
    """Copy the volume into a new qcow2 file ``target_path``.

    Full when ``source_bitmap`` is None; otherwise incremental: only the
    clusters set in ``source_bitmap`` are copied and ``backing_file`` (a
    name relative to the target's directory) supplies the rest. When
    ``new_bitmap`` is given it is created in the same transaction and
    records every write from then on. On success ``source_bitmap`` and
    ``drop_bitmaps`` are removed from the volume.

    A full copy of a volume without backing file reads only its allocated
    clusters.

    On failure the target is removed, the new bitmap too, and the source
    bitmap keeps every bit it had. ``speed`` limits the copy to that many
    bytes per second (0: unlimited). ``owner``: the
    :class:`~incsnap_driver.qemu.owner.Owner` marked on the daemon (here
    and in the other copy jobs). ``create_execute``: the runner creating
    the target (default ``execute``).
    """
    if os.path.exists(target_path):
        raise daemon_mod.DaemonError('snapshot target %s exists already'
                                     % target_path)
    img.create(target_path, size, execute=create_execute or execute,
               backing_file=backing_file)
    writes_volume = bool(new_bitmap or source_bitmap or drop_bitmaps)
    blockdevs = [
        _node(VOLUME_NODE, volume_path, fmt=volume_fmt,
              read_only=not writes_volume),
        _node(TARGET_NODE, target_path, backing=False),
    ]
    backup = {'device': VOLUME_NODE, 'target': TARGET_NODE,
              'job-id': 'incsnap-snapshot', 'auto-dismiss': False,
              'speed': int(speed or 0)}
    if source_bitmap:
        backup.update(sync='incremental', bitmap=source_bitmap)
    elif volume_has_backing:
        backup['sync'] = 'full'
    else:
        # The volume has no backing file: what it does not allocate reads
        # as zeroes, as it does in the fresh target. sync=top skips it
        # (and does not count it against the speed limit, sync=full does).
        backup['sync'] = 'top'
    actions = []
    if new_bitmap:
        actions.append({'type': 'block-dirty-bitmap-add',
                        'data': {'node': VOLUME_NODE, 'name': new_bitmap,
                                 'persistent': True}})
    actions.append({'type': 'blockdev-backup', 'data': backup})
    try:
        with daemon_mod.StorageDaemon(blockdevs, execute=execute,
                                      owner_uid=owner_uid,
                                      owner=owner) as qsd:
            if source_bitmap:
                needed = _dirty_bytes(qsd, source_bitmap)
            else:
                needed = os.stat(volume_path).st_blocks * 512
            check_space(target_path, needed)
            qsd.qmp('transaction', actions=actions)
            try:
                qsd.run_job('incsnap-snapshot', timeout, progress)
            except daemon_mod.DaemonError:
                # Free the partial target's space first: QEMU writes the
                # volume's bitmaps back when it quits, and on a full share
                # it could not, leaving them inconsistent.
                _close_and_remove(qsd, TARGET_NODE, target_path)
                if new_bitmap:
                    _remove_bitmaps(qsd, VOLUME_NODE, [new_bitmap])
                raise
            old = [source_bitmap] if source_bitmap else []
            _remove_bitmaps(qsd, VOLUME_NODE,
                            old + [b for b in drop_bitmaps if b not in old])
    except BaseException:
        _remove_file(target_path)
        raise


def revert_changed(volume_path, snapshot_path, bitmap, undo_path, timeout,
                   before_apply=None, progress=None, speed=0,
                   execute=processutils.execute, owner_uid=None,
                   owner=None):
    """Make the volume read like the snapshot, copying only what changed.

    ``bitmap`` is the volume's bitmap of the snapshot: it lists every
    cluster written since, so copying those clusters back from the
    snapshot's chain is enough. First the volume's current content of those
    clusters is saved to ``undo_path``; ``before_apply(undo_path)`` is then
    called (the driver records the undo file in its journal); only then is
    the volume written. If applying fails, the undo file is copied back, so
    the volume is as it was. The undo file is removed at the end, unless
    the daemon died while applying (the caller's recovery then restores
    from it, see :func:`restore_undo`).

    Afterwards the bitmap is cleared: the volume equals the snapshot again.
    """
    info = img.info(volume_path, execute=execute)
    img.create(undo_path, info['virtual-size'], execute=execute)
    blockdevs = [
        _node(VOLUME_NODE, volume_path),
        _node(SNAPSHOT_NODE, snapshot_path, read_only=True),
        _node(UNDO_NODE, undo_path, backing=False),
    ]
    keep_undo = False
    try:
        with daemon_mod.StorageDaemon(blockdevs, execute=execute,
                                      owner_uid=owner_uid,
                                      owner=owner) as qsd:
            qsd.qmp('blockdev-backup', **{
                'device': VOLUME_NODE, 'target': UNDO_NODE,
                'sync': 'bitmap', 'bitmap': bitmap, 'bitmap-mode': 'never',
                'job-id': 'incsnap-undo', 'auto-dismiss': False,
                'speed': int(speed or 0)})
            qsd.run_job('incsnap-undo', timeout)
            # Closing the node flushes the undo file to the share.
            qsd.qmp('blockdev-del', **{'node-name': UNDO_NODE})
            if before_apply is not None:
                before_apply(undo_path)
            keep_undo = True
            try:
                qsd.qmp('block-dirty-bitmap-add', node=SNAPSHOT_NODE,
                        name=REVERT_BITMAP, persistent=False)
                qsd.qmp('block-dirty-bitmap-merge', node=SNAPSHOT_NODE,
                        target=REVERT_BITMAP,
                        bitmaps=[{'node': VOLUME_NODE, 'name': bitmap}])
                qsd.qmp('blockdev-backup', **{
                    'device': SNAPSHOT_NODE, 'target': VOLUME_NODE,
                    'sync': 'incremental', 'bitmap': REVERT_BITMAP,
                    'job-id': 'incsnap-revert', 'auto-dismiss': False,
                    'speed': int(speed or 0)})
                qsd.run_job('incsnap-revert', timeout, progress)
            except (daemon_mod.DaemonError, qmp.QMPError):
                LOG.warning('Revert of %s failed; restoring the changed '
                            'clusters from %s.', volume_path, undo_path)
                _copy_back(qsd, undo_path, timeout)
                keep_undo = False
                raise
            qsd.qmp('block-dirty-bitmap-clear', node=VOLUME_NODE,
                    name=bitmap)
            keep_undo = False
    finally:
        if not keep_undo:
            _remove_file(undo_path)


def _copy_back(qsd, undo_path, timeout):
    qsd.qmp('blockdev-add', **_node(UNDO_NODE, undo_path, read_only=True,
                                    backing=False))
    # sync=top copies what the undo file holds itself: exactly the saved
    # clusters, zero clusters included.
    qsd.qmp('blockdev-backup', **{
        'device': UNDO_NODE, 'target': VOLUME_NODE, 'sync': 'top',
        'job-id': 'incsnap-undo-back', 'auto-dismiss': False})
    qsd.run_job('incsnap-undo-back', timeout)


def restore_undo(volume_path, undo_path, timeout,
                 execute=processutils.execute, owner_uid=None, owner=None):
    """Copy an undo file back onto the volume, then remove it.

    Used by recovery when a revert was interrupted (process killed) after
    the volume started being written.
    """
    blockdevs = [_node(VOLUME_NODE, volume_path)]
    with daemon_mod.StorageDaemon(blockdevs, execute=execute,
                                  owner_uid=owner_uid, owner=owner) as qsd:
        _copy_back(qsd, undo_path, timeout)
    _remove_file(undo_path)
