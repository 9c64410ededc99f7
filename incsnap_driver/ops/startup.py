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
"""The start-up scan: interrupted work on this backend's shares, recovered.

:func:`find` reads the shares without any lock: one ``/proc`` pass for
the QEMU tools naming files on them, one listing per share and per
snapshot folder, each chain document's journal. :func:`run` then takes,
for each volume :func:`incsnap_driver.interrupted.reasons` picks, that
volume's lock without waiting (a volume whose lock is held is being
worked on, and that operation recovers it first), opens it
(:meth:`~incsnap_driver.ops.volume.VolumeContext.open`: exactly the
recovery every operation runs first), and settles the Cinder resources
stuck on it (:func:`incsnap_driver.interrupted.settle`) through the
caller's ``apply``. One log line per volume, one summary.

The caller passes the means: ``try_lock(volume_id)`` (a context manager
holding the volume's coordination lock, or None when it is held) and
``apply(settlement)`` (sets the status in Cinder; True when it did).
"""

import collections
import dataclasses
import json
import os
import time

from oslo_log import log as logging

from incsnap_driver import interrupted
from incsnap_driver import layout
from incsnap_driver.ops import volume as volume_op
from incsnap_driver.qemu import orphans
from incsnap_driver.qemu import processes
from incsnap_driver import store

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Summary:
    """What one scan saw and did (its counts make the summary line)."""

    shares: int = 0
    volumes: int = 0
    recovered: int = 0
    busy: int = 0
    failed: int = 0
    settled: int = 0
    left_to_admin: int = 0
    seconds: float = 0.0

    def line(self):
        return ('incsnap start-up recovery: %(volumes)d volume(s) on '
                '%(shares)d share(s) scanned in %(seconds).2f s: '
                '%(recovered)d recovered, %(busy)d busy (their lock is held: '
                'the operation holding it recovers them), %(failed)d '
                'failed; %(settled)d Cinder status(es) set, %(left)d left '
                'to the admin' % dict(dataclasses.asdict(self),
                                      left=self.left_to_admin))


def _tools_by_volume(share_dirs):
    """{share dir: {volume id: [pid]}} of the QEMU tools naming them."""
    found = collections.defaultdict(lambda: collections.defaultdict(list))
    for pid in processes.pids():
        tool = orphans.tool_of(pid, processes.cmdline(pid))
        if tool is None:
            continue
        for share_dir in share_dirs:
            ids = set()
            for arg in tool.args:
                ids |= layout.volume_ids_named(arg, share_dir)
            for volume_id in ids:
                found[share_dir][volume_id].append(pid)
    return found


def _journal_state(snap_dir):
    """(has a journal, unreadable) of a snapshot folder's document."""
    try:
        with open(os.path.join(snap_dir, store.DOCUMENT), 'rb') as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        return False, False
    except (OSError, ValueError):
        return False, True
    if not isinstance(data, dict):
        return False, True
    return bool(data.get('journal')), False


def _volume_ids(names):
    """{volume id: {name of its entries}} from a share's listing."""
    ids = collections.defaultdict(set)
    for name in names:
        volume_id = (layout.volume_id_of(name) or
                     layout.snapshot_dir_volume_id_of(name) or
                     layout.volume_part_id_of(name))
        if volume_id:
            ids[volume_id].add(name)
    return ids


def find(share_dirs):
    """:class:`~incsnap_driver.interrupted.Found` of every volume.

    Read without locks: a volume an operation is working on may show its
    partial files; :func:`run` decides under the lock.
    """
    tools = _tools_by_volume(share_dirs)
    result = []
    for share_dir in share_dirs:
        try:
            names = os.listdir(share_dir)
        except OSError as exc:
            LOG.error('incsnap start-up recovery: cannot read share '
                      '%(share)s: %(err)s', {'share': share_dir, 'err': exc})
            continue
        for volume_id, entries in sorted(_volume_ids(names).items()):
            volume_name = layout.volume_file(volume_id)
            snap_dir = os.path.join(share_dir, layout.snapshot_dir(
                volume_name))
            leftovers, journal, unreadable = (), False, False
            if layout.snapshot_dir(volume_name) in entries:
                try:
                    leftovers = tuple(n for n in os.listdir(snap_dir)
                                      if layout.is_leftover(n))
                except OSError:
                    unreadable = True
                journal, bad_doc = _journal_state(snap_dir)
                unreadable = unreadable or bad_doc
            result.append(interrupted.Found(
                volume_id=volume_id, share_dir=share_dir,
                volume_file=volume_name in entries,
                partials=tuple(sorted(
                    n for n in entries if layout.volume_part_id_of(n))),
                leftovers=leftovers, journal=journal, unreadable=unreadable,
                tools=tuple(sorted(tools[share_dir][volume_id]))))
    return result


def _after(context, stuck):
    """The :class:`~incsnap_driver.interrupted.AfterRecovery` of a volume."""
    states = {}
    for item in stuck:
        if item.kind == interrupted.SNAPSHOT:
            record = context.chain.get(item.id)
            present = record is not None and os.path.exists(
                context.files.in_folder(record.file))
            states[item.id] = interrupted.snapshot_state(record, present)
    recovered = context.recovered
    return interrupted.AfterRecovery(
        volume_file=os.path.exists(context.files.path),
        revert_traces=bool(recovered.journal or recovered.stopped or any(
            layout.is_revert_leftover(n) for n in recovered.removed)),
        rolled_back=recovered.restored, snapshots=states)


def _recover_one(backend, path, volume_id, stuck, apply, clustered,
                 summary):
    """Open (recover) one volume, settle its stuck resources, log."""
    try:
        context = volume_op.VolumeContext.open(backend, volume_id, path)
    except Exception as exc:
        summary.failed += 1
        LOG.error('incsnap start-up recovery: volume %(vol)s: recovery '
                  'failed: %(err)s', {'vol': volume_id, 'err': exc})
        after = None
        done = 'recovery failed'
    else:
        after = _after(context, stuck)
        done = context.recovered.describe()
        if context.recovered:
            summary.recovered += 1
    statuses = []
    for item in stuck:
        settlement = interrupted.settle(item, after, clustered=clustered)
        if settlement.status is not None and apply(settlement):
            summary.settled += 1
            statuses.append('%s %s %s -> %s (%s)' % (
                item.kind, item.id, item.status, settlement.status,
                settlement.why))
            continue
        summary.left_to_admin += 1
        admin = settlement.admin or interrupted.admin_call(
            item.kind, item.status, item.id)
        why = settlement.why if settlement.status is None else (
            'its status changed meanwhile')
        statuses.append('%s %s left %s (%s): settle it with: %s' % (
            item.kind, item.id, item.status, why, admin))
    log = LOG.error if after is None else LOG.warning
    log('incsnap start-up recovery: volume %(vol)s: %(done)s%(st)s',
        {'vol': volume_id, 'done': done,
         'st': ''.join('; ' + s for s in statuses)})


def run(backend, share_dirs, stuck, try_lock, apply, clustered=False,
        retry_for=0.0, retry_every=2.0, sleep=time.sleep):
    """Recover every volume with interrupted work; the :class:`Summary`.

    ``stuck``: :class:`~incsnap_driver.interrupted.Stuck` resources of
    this host, as Cinder had them when the service started.

    A volume whose lock is held is tried again every ``retry_every``
    seconds for ``retry_for`` seconds: a lock on etcd is a lease, which
    outlives a killed service (this one, restarted, or a dead peer) until
    it lapses; a live peer's operation ends too. Still held after that,
    it is left to whoever holds it (counted busy).
    """
    started = time.monotonic()
    summary = Summary(shares=len(share_dirs))
    found = find(share_dirs)
    summary.volumes = len(found)
    stuck_of, paths = {}, {}
    for item in stuck:
        stuck_of.setdefault(item.volume_id, []).append(item)
        paths[item.volume_id] = item.volume_path
    work = {}
    for item in found:
        why = interrupted.reasons(item, stuck_of.get(item.volume_id, ()))
        if why:
            work[item.volume_id] = why
            paths[item.volume_id] = os.path.join(
                item.share_dir, layout.volume_file(item.volume_id))
    for volume_id, items in stuck_of.items():
        work.setdefault(volume_id, interrupted.reasons(None, items))
    pending = sorted(work)
    deadline = time.monotonic() + retry_for
    while True:
        busy = []
        for volume_id in pending:
            lock = try_lock(volume_id)
            if lock is None:
                busy.append(volume_id)
                continue
            with lock:
                _recover_one(backend, paths[volume_id], volume_id,
                             stuck_of.get(volume_id, ()), apply, clustered,
                             summary)
        pending = busy
        if not pending or time.monotonic() >= deadline:
            break
        LOG.info('incsnap start-up recovery: %(n)d volume(s) locked (%(ids)s);'
                 ' trying again in %(s).0f s (a dead holder\'s lease lapses)',
                 {'n': len(pending), 'ids': ', '.join(pending),
                  's': retry_every})
        sleep(retry_every)
    for volume_id in pending:
        summary.busy += 1
        summary.left_to_admin += len(stuck_of.get(volume_id, ()))
        LOG.info('incsnap start-up recovery: volume %(vol)s (%(why)s) '
                 'is busy: its lock is held; the operation holding it '
                 'recovers it first.%(admin)s',
                 {'vol': volume_id, 'why': '; '.join(work[volume_id]),
                  'admin': ''.join(
                      ' Settle %s %s (%s) with: %s.' % (
                          s.kind, s.id, s.status, interrupted.admin_call(
                              s.kind, s.status, s.id))
                      for s in stuck_of.get(volume_id, ()))})
    summary.seconds = time.monotonic() - started
    LOG.info(summary.line())
    return summary
