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
"""Pure: the intervals a volume lock was held, from the services' logs.

Every section of the driver that holds a volume's coordination lock logs
one line when it starts and one when it ends
(:mod:`incsnap_driver.volume_lock`)::

    incsnap-lock {"event": "enter", "lock": "nfs-<volume id>", ...}

with the holder (Cinder's ``host@backend`` and the process id), the
operation and the wall-clock time. :func:`parse` reads such lines out of
any log text, :func:`intervals` pairs them, :func:`overlaps` finds two
holders inside the same lock at once: what a lock that does not exclude
across nodes shows (Cinder's default file locks in a cluster).

Times are wall-clock seconds (``time.time()``) of the holder's host: on
one machine they compare exactly; across hosts only as well as their
clocks agree.
"""

import dataclasses
import json
import math
import typing

MARK = 'incsnap-lock '
ENTER = 'enter'
EXIT = 'exit'


@dataclasses.dataclass(frozen=True)
class Event:
    """One logged line: a holder entering or leaving a lock."""

    event: str
    lock: str
    op: str
    host: str
    pid: int
    at: float
    token: str


@dataclasses.dataclass(frozen=True)
class Interval:
    """A lock held by one section: ``exit`` is None while it is open.

    ``ends``: the exit, or for an open one the given end (the moment its
    holder died), else infinity.
    """

    lock: str
    op: str
    host: str
    pid: int
    enter: float
    exit: typing.Optional[float]
    ends: float

    @property
    def holder(self):
        return '%s (pid %d)' % (self.host, self.pid)


def line(event, lock, op, host, pid, at, token):
    """The text logged for one :class:`Event` (after :data:`MARK`)."""
    return MARK + json.dumps({'event': event, 'lock': lock, 'op': op,
                              'host': host, 'pid': pid, 'at': at,
                              'token': token}, sort_keys=True)


def parse(text):
    """Every :class:`Event` in ``text`` (lines without the mark skipped)."""
    found = []
    for raw in text.splitlines():
        where = raw.find(MARK)
        if where < 0:
            continue
        try:
            data = json.loads(raw[where + len(MARK):])
            found.append(Event(event=data['event'], lock=data['lock'],
                               op=data['op'], host=data['host'],
                               pid=int(data['pid']), at=float(data['at']),
                               token=data['token']))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def intervals(events, died=None):
    """The :class:`Interval` of each entered section, by enter time.

    ``died``: {pid: time} of holders known dead; their open sections end
    then (a killed service logs no exit).
    """
    died = died or {}
    exits = {e.token: e for e in events if e.event == EXIT}
    result = []
    for e in events:
        if e.event != ENTER:
            continue
        out = exits.get(e.token)
        ends = out.at if out else died.get(e.pid, math.inf)
        result.append(Interval(lock=e.lock, op=e.op, host=e.host, pid=e.pid,
                               enter=e.at, exit=out.at if out else None,
                               ends=ends))
    return sorted(result, key=lambda i: (i.enter, i.ends))


def overlaps(spans):
    """Pairs of :class:`Interval` inside the same lock at the same time."""
    by_lock = {}
    for span in spans:
        by_lock.setdefault(span.lock, []).append(span)
    found = []
    for lock_spans in by_lock.values():
        lock_spans.sort(key=lambda i: i.enter)
        for i, first in enumerate(lock_spans):
            for second in lock_spans[i + 1:]:
                if second.enter >= first.ends:
                    break
                found.append((first, second))
    return found


def describe(pair):
    """One line naming an overlap."""
    a, b = pair
    return ('%s: %s by %s [%.6f, %s] overlaps %s by %s [%.6f, %s]'
            % (a.lock, a.op, a.holder, a.enter,
               '%.6f' % a.exit if a.exit is not None else 'open',
               b.op, b.holder, b.enter,
               '%.6f' % b.exit if b.exit is not None else 'open'))
