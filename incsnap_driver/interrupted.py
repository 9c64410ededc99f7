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
"""Pure: what a killed service left, and which status fits afterwards.

When the service starts, :mod:`incsnap_driver.ops.startup` reads the
shares without any lock (:class:`Found`, one per volume) and asks
:func:`reasons` which volumes need the recovery; each of those is then
opened under its lock, which runs the recovery
(:mod:`incsnap_driver.ops.recovery`). A Cinder resource the dead service
left in a transitional status (:class:`Stuck`) then gets the status that
matches the share (:func:`settle`), or is left to the admin with the
call that settles it (:data:`ADMIN_CALLS`).

What Cinder settles itself at start-up (its workers table): a volume
``creating`` becomes ``error``, ``deleting`` is deleted again; a snapshot
``creating`` becomes ``error``. What it leaves: a volume ``reverting``
(with its snapshot ``restoring``), a snapshot ``deleting``, a volume
``extending``.

A status is set only where the share tells what happened: a revert
leaves traces (journal, undo file, partial copy, its QEMU tool) while it
runs; without them its request may still wait in the service's queue
(messages outlive a restart), and setting the volume ``available``
would race with it. Deleting a snapshot is idempotent: its status
follows the share. Plain values in, plain values out.
"""

import dataclasses
import typing

VOLUME = 'volume'
SNAPSHOT = 'snapshot'

# Transitional statuses Cinder leaves as they are when the service that
# worked on them dies; the driver settles these.
SETTLED_BY_DRIVER = {VOLUME: ('reverting',),
                     SNAPSHOT: ('restoring', 'deleting')}
# Listed by incsnap-manage stuck: those above, and those nobody settles
# or that Cinder settles only through its workers table.
LISTED = {VOLUME: ('reverting', 'extending'),
          SNAPSHOT: ('restoring', 'deleting', 'creating')}

ADMIN_CALLS = {
    (VOLUME, 'reverting'): 'openstack volume set --state available {id}',
    (VOLUME, 'extending'): 'openstack volume set --state available {id} '
                           '(its size in Cinder may then be the old one)',
    (SNAPSHOT, 'restoring'): 'openstack volume snapshot set --state '
                             'available {id}',
    (SNAPSHOT, 'deleting'): 'openstack volume snapshot set --state '
                            'error_deleting {id}, then delete it again',
    (SNAPSHOT, 'creating'): 'openstack volume snapshot set --state error '
                            '{id}, then delete it',
}

WHO_SETTLES = {
    (VOLUME, 'reverting'): 'the driver when the service starts again '
                           '(not in a cluster)',
    (SNAPSHOT, 'restoring'): 'the driver when the service starts again '
                             '(not in a cluster)',
    (SNAPSHOT, 'deleting'): 'the driver when the service starts again '
                            '(not in a cluster)',
    (SNAPSHOT, 'creating'): "Cinder's own clean-up when the service starts "
                            'again (error)',
    (VOLUME, 'extending'): 'nobody: Cinder leaves it',
}

# A snapshot's state on the share after recovery (see snapshot_state).
LIVE = 'live'                # recorded, not hidden, its file present
HIDDEN = 'hidden'            # deleted in Cinder's sense, file kept
ABSENT = 'absent'            # not in the chain document
FILE_MISSING = 'file-missing'  # recorded as live, its file gone


def admin_call(kind, status, resource_id):
    """The command an admin runs to settle a resource stuck in ``status``."""
    call = ADMIN_CALLS.get((kind, status))
    return call.format(id=resource_id) if call else None


@dataclasses.dataclass(frozen=True)
class Found:
    """What a share shows of one volume, read without its lock.

    ``partials``: partial copies beside the volume file on the share;
    ``leftovers``: files in its snapshot folder that are never complete
    data; ``journal``: its chain document holds a journal;
    ``unreadable``: its document could not be read; ``tools``: PIDs of
    QEMU tools whose command line names its files.
    """

    volume_id: str
    share_dir: str
    volume_file: bool = True
    partials: tuple = ()
    leftovers: tuple = ()
    journal: bool = False
    unreadable: bool = False
    tools: tuple = ()


@dataclasses.dataclass(frozen=True)
class Stuck:
    """A Cinder resource of this host in a transitional status.

    ``volume_path``: where its volume's file is (a snapshot's volume);
    ``volume_status``: its volume's status (a snapshot's); ``token``:
    what the glue needs to set the status back only if nobody changed it
    meanwhile (opaque here).
    """

    kind: str
    id: str
    volume_id: str
    status: str
    volume_path: str
    volume_status: typing.Optional[str] = None
    token: typing.Any = None


def reasons(found, stuck=()):
    """Why a volume needs the recovery, as short phrases; [] for none."""
    why = []
    if found is not None:
        if found.tools:
            why.append('QEMU tool(s) %s on its files'
                       % ', '.join(str(p) for p in found.tools))
        if found.journal:
            why.append('an interrupted revert in its journal')
        if found.unreadable:
            why.append('an unreadable chain document')
        if found.leftovers or found.partials:
            why.append('%d partial file(s)'
                       % (len(found.leftovers) + len(found.partials)))
    for item in stuck:
        why.append('%s %s left %s' % (item.kind, item.id, item.status))
    return why


@dataclasses.dataclass(frozen=True)
class AfterRecovery:
    """One volume's share after the recovery ran under its lock.

    ``volume_file``: the volume's file exists; ``revert_traces``: the
    recovery found a revert under way (its journal, undo or partial
    file, or a QEMU tool left on the volume); ``rolled_back``: it undid
    that revert from its undo file; ``snapshots``: the state
    (:data:`LIVE`, ...) of each snapshot asked about.
    """

    volume_file: bool
    revert_traces: bool = False
    rolled_back: bool = False
    snapshots: typing.Mapping[str, str] = dataclasses.field(
        default_factory=dict)


# Why a revert without any trace on the share is left to the admin.
NO_REVERT_TRACE = ('no trace of the revert on the share: its request may '
                   'still be queued for the service, which then runs it; '
                   'if it stays so, no revert ran')


@dataclasses.dataclass(frozen=True)
class Settlement:
    """The status a stuck resource gets (``status``), or None and why."""

    stuck: Stuck
    status: typing.Optional[str]
    why: str

    @property
    def admin(self):
        """The admin's call when the driver leaves the resource as it is."""
        if self.status is not None:
            return None
        return admin_call(self.stuck.kind, self.stuck.status, self.stuck.id)


def snapshot_state(record, file_present):
    """:data:`LIVE`, :data:`HIDDEN`, ... of a chain record (or None)."""
    if record is None:
        return ABSENT
    if record.hidden:
        return HIDDEN
    return LIVE if file_present else FILE_MISSING


def settle(stuck, after, clustered=False):
    """The :class:`Settlement` of ``stuck`` given the share ``after``.

    ``after`` is None when the recovery failed. In a cluster another
    node may be working on the resource right now (Cinder records no
    owner of a revert or a snapshot delete): the status is left to the
    admin.
    """
    def leave(why):
        return Settlement(stuck, None, why)

    if (stuck.kind, stuck.status) not in {
            (kind, status) for kind, statuses in SETTLED_BY_DRIVER.items()
            for status in statuses}:
        return leave('Cinder or the admin settles %s %s'
                     % (stuck.kind, stuck.status))
    if clustered:
        return leave('in a cluster another node may be working on it')
    if after is None:
        return leave('the recovery of its volume failed')
    if stuck.kind == VOLUME:
        if not after.volume_file:
            return leave('its volume file is missing')
        if not after.revert_traces:
            return leave(NO_REVERT_TRACE)
        if after.rolled_back:
            return Settlement(stuck, 'available',
                              'the interrupted revert was rolled back: the '
                              'volume holds its data from before the revert')
        return Settlement(stuck, 'available',
                          'the interrupted revert had not written the '
                          'volume: it holds its data from before the '
                          'revert')
    state = after.snapshots.get(stuck.id, ABSENT)
    if stuck.status == 'restoring':
        # A revert puts its volume in reverting: without it, no revert
        # to this snapshot can be under way or queued.
        if stuck.volume_status == 'reverting' and not after.revert_traces:
            return leave(NO_REVERT_TRACE)
        if state == LIVE:
            return Settlement(stuck, 'available', 'its file is intact')
        return leave('its file is %s' % state)
    # deleting
    if state == LIVE:
        return Settlement(stuck, 'available',
                          'the delete had not reached the share: the '
                          'snapshot is intact; delete it again')
    return Settlement(stuck, 'error_deleting',
                      'the delete had reached the share (its file is %s): '
                      'delete it again to remove it from Cinder' % state)
