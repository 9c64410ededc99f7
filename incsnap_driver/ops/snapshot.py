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
"""Taking a snapshot: full or incremental, online or offline.

A VM running on the volume owns its file: the copy is then a libvirt
backup job on that VM (:mod:`incsnap_driver.online`). Otherwise (detached,
or attached to a stopped VM) qemu-storage-daemon runs the same job on the
file (:func:`incsnap_driver.qemu.offline.snapshot`). Either way the facts
about the volume's bitmaps go to :func:`incsnap_driver.chain.plan_snapshot`,
and the new record goes into the chain document once the file is complete.
"""

import dataclasses
import datetime
import os
import time
import typing

from cinder.i18n import _
from oslo_log import log as logging

from incsnap_driver import chain as chain_mod
from incsnap_driver import layout
from incsnap_driver import online
from incsnap_driver.ops import errors
from incsnap_driver.qemu import img
from incsnap_driver.qemu import offline
from incsnap_driver.virt import errors as virt_errors
from incsnap_driver.virt import imagelock

LOG = logging.getLogger(__name__)

METADATA_PREFIX = 'incsnap:'
PROGRESS_INTERVAL = 2.0


def check_id(snapshot_id):
    """Refuse a snapshot id that cannot name a file (SnapshotInvalid)."""
    try:
        layout.check_uuid('snapshot', snapshot_id)
    except layout.UnsafeName as exc:
        raise errors.SnapshotInvalid(str(exc))


def throttled(save, interval=PROGRESS_INTERVAL):
    """A progress callback passing a new percentage on to ``save``.

    At most every ``interval`` seconds, except 100 which always goes.
    """
    # The first report always goes: ``last`` is no time at all, not 0.0
    # (the monotonic clock counts from boot, so 0.0 is "a moment ago" on
    # a machine up for less than ``interval``).
    state = {'last': None, 'value': None}

    def report(percent):
        now = time.monotonic()
        if percent == state['value']:
            return
        if percent < 100 and state['last'] is not None and \
                now - state['last'] < interval:
            return
        state['last'] = now
        state['value'] = percent
        save(percent)
    return report


def metadata(existing, record):
    """The snapshot's metadata: the user's own, and ours from ``record``."""
    result = dict(existing or {})
    for key in list(result):
        if key.startswith(METADATA_PREFIX):
            del result[key]
    result[METADATA_PREFIX + 'kind'] = record.kind
    result[METADATA_PREFIX + 'chain_depth'] = str(record.depth)
    if record.parent:
        result[METADATA_PREFIX + 'parent'] = record.parent
    if record.reason:
        result[METADATA_PREFIX + 'full_reason'] = record.reason
    return result


@dataclasses.dataclass
class _Job:
    """What one snapshot works on, and what it found out."""

    context: object
    snapshot_id: str
    policy: object
    progress: typing.Optional[typing.Callable] = None
    mode: typing.Optional[str] = None
    plan: typing.Optional[chain_mod.SnapshotPlan] = None
    size: int = 0
    checkpoint_xml: typing.Optional[str] = None

    @property
    def final(self):
        return self.context.files.in_folder(
            layout.snapshot_file(self.snapshot_id))

    @property
    def part(self):
        return self.context.files.in_folder(
            layout.part_file(self.snapshot_id))


def create(context, snapshot_id, availability_zone, attachments,
           progress=None):
    """Take snapshot ``snapshot_id`` of the volume; its new chain record.

    ``attachments``: :class:`incsnap_driver.online.Attachment` of the
    volume (none when detached); ``progress``: called with a percentage.
    """
    backend, files, chain = context.backend, context.files, context.chain
    if not os.path.exists(files.path):
        raise errors.BackendFailed(
            _('Snapshot %(snap)s: the file of volume %(vol)s is missing '
              '(%(path)s).') % {'snap': snapshot_id, 'vol': files.volume_id,
                                'path': files.path})
    os.makedirs(files.snap_dir, exist_ok=True)
    if not context.store.exists():
        # The document exists before any snapshot file does.  A process
        # killed between the file's rename and the document's save then
        # leaves a file the document does not know, which the snapshot's
        # delete removes, not snapshot files without a document, which is
        # damage that stops every operation on the volume.
        context.save()
    job = _Job(context, snapshot_id, backend.policy(availability_zone),
               progress)
    try:
        with online.running_disk(backend.settings.libvirt_uri, attachments,
                                 files.name) as (conn, disk):
            if disk is None:
                _offline(job)
            else:
                _online(job, conn, disk)
    except virt_errors.VirtError as exc:
        backend.remove(job.part)
        raise _virt_failure(snapshot_id, files.volume_id, exc)
    except errors.COPY_FAILURES as exc:
        backend.remove(job.part)
        LOG.error('Snapshot %(snap)s of volume %(vol)s failed: %(err)s',
                  {'snap': snapshot_id, 'vol': files.volume_id, 'err': exc})
        raise errors.BackendFailed(
            _('Snapshot %(snap)s of volume %(vol)s failed: %(err)s%(hint)s')
            % {'snap': snapshot_id, 'vol': files.volume_id, 'err': exc,
               'hint': _locked_hint(exc, attachments)})
    backend.set_permissions(job.final)
    plan = job.plan
    record = chain_mod.SnapshotRecord(
        id=snapshot_id, file=os.path.basename(job.final), kind=plan.kind,
        depth=plan.depth, parent=plan.parent, reason=plan.reason,
        bitmap=plan.new_bitmap, size=job.size,
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        checkpoint_xml=job.checkpoint_xml, mode=job.mode)
    chain.snapshots.append(record)
    chain.head = snapshot_id if plan.new_bitmap else None
    context.save()
    return record


def _locked_hint(exc, attachments):
    """Why the offline copy may have found the volume locked."""
    if 'Failed to get "write" lock' not in str(exc):
        return ''
    if attachments:
        return _(' (a QEMU holds the volume open although no domain runs '
                 'it on %s: a VM moved to another host before its '
                 'attachment did?)') % ', '.join(
                     sorted({a.host for a in attachments}))
    return _(' (another process holds the volume open)')


def _plan(job, facts):
    job.plan = chain_mod.plan_snapshot(job.context.chain, job.snapshot_id,
                                       job.policy, facts)
    LOG.info('Snapshot %(snap)s of volume %(vol)s (%(mode)s): '
             '%(kind)s%(why)s.',
             {'snap': job.snapshot_id, 'vol': job.context.volume_id,
              'mode': job.mode, 'kind': job.plan.kind,
              'why': (' (%s)' % job.plan.reason if job.plan.reason else
                      ' from %s' % job.plan.parent)})
    return job.plan


def _offline(job):
    """The copy by qemu-storage-daemon on the volume file."""
    job.mode = 'offline'
    context = job.context
    backend, chain = context.backend, context.chain
    facts, info = context.facts(chain.newest_live())
    job.size = facts.size
    plan = _plan(job, facts)
    backing = chain.get(plan.parent).file if plan.parent else None
    offline.snapshot(
        context.files.path, job.part, facts.size,
        backend.settings.copy_timeout, volume_fmt=facts.format,
        backing_file=backing, source_bitmap=plan.source_bitmap,
        new_bitmap=plan.new_bitmap, drop_bitmaps=plan.drop_bitmaps,
        progress=job.progress, speed=backend.copy_speed,
        volume_has_backing=bool(info.get('backing-filename')),
        execute=backend.execute, owner_uid=backend.owner_uid,
        owner=backend.owner(),
        create_execute=backend.runner(creates_in=[context.files.snap_dir]))
    os.rename(job.part, job.final)


def _online(job, conn, disk):
    """The copy by a libvirt backup job of the VM running the volume."""
    job.mode = 'online'
    context, policy = job.context, job.policy
    backend, chain = context.backend, context.chain
    online.check_versions(conn, policy.incremental)
    parent = chain.newest_live()
    # What the image header says: its format, size, and our bitmaps made
    # offline. Whether the parent's bitmap is usable is for the running
    # QEMU to say, through libvirt.
    facts, _info = context.facts(parent)
    job.size = facts.size
    header_bitmaps = [n for n in facts.bitmaps if chain_mod.is_ours(n)]
    states = {}
    if (policy.incremental and parent is not None and parent.bitmap and
            facts.can_hold_bitmaps and chain.head == parent.id and
            parent.depth < policy.delta_max and
            facts.parent_file_present):
        state = online.parent_state(disk, parent)
        if state is not None:
            states[parent.bitmap] = state
    facts = dataclasses.replace(facts, bitmaps=states)
    plan = _plan(job, facts)
    relative = os.path.relpath(job.part, os.path.dirname(context.files.path))
    result = online.take(
        disk, relative, plan, backend.settings.copy_timeout, job.progress,
        backend.settings.quiesce,
        remove_target=lambda _path: backend.remove(job.part))
    if plan.parent:
        # libvirt backs an incremental target by the live volume.
        imagelock.wait_unlocked(job.part)
        img.rebase_unsafe(job.part, chain.get(plan.parent).file,
                          execute=backend.execute)
    os.rename(job.part, job.final)
    job.checkpoint_xml = result.checkpoint_xml
    online.tidy(disk, keep=[plan.new_bitmap], stale=header_bitmaps)


def _virt_failure(snapshot_id, volume_id, exc):
    values = {'snap': snapshot_id, 'vol': volume_id, 'err': exc}
    LOG.error('Snapshot %(snap)s of attached volume %(vol)s failed: '
              '%(err)s', values)
    if isinstance(exc, (virt_errors.VersionTooOld,
                        virt_errors.BackupUnsupported)):
        return errors.DriverFailed(
            _('Snapshot %(snap)s of volume %(vol)s: %(err)s') % values)
    return errors.BackendFailed(
        _('Snapshot %(snap)s of attached volume %(vol)s failed: %(err)s')
        % values)
