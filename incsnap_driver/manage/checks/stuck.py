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
"""Cinder resources stuck in a transitional status: who settles them.

Pure: rows read from Cinder's database in, problems out, each naming the
resource, how long it has been so, who settles it and the admin's call
(:data:`incsnap_driver.interrupted.ADMIN_CALLS`). A resource changed
less than ``min_age`` seconds ago may still be in progress: a warning.
"""

import dataclasses

from incsnap_driver import interrupted
from incsnap_driver.manage.checks import model


@dataclasses.dataclass(frozen=True)
class StuckRow:
    """A volume or snapshot of one of our backends' hosts, from Cinder."""

    kind: str
    id: str
    volume_id: str
    status: str
    host: str
    age: float          # seconds since Cinder last changed the row


def _duration(seconds):
    for unit, size in (('d', 86400), ('h', 3600), ('min', 60)):
        if seconds >= size:
            return '%.1f %s' % (seconds / size, unit)
    return '%d s' % seconds


def stuck_problems(rows, min_age):
    """[Problem] for the rows in a status :data:`interrupted.LISTED`."""
    problems = []
    for row in sorted(rows, key=lambda r: (r.volume_id, r.kind, r.id)):
        if row.status not in interrupted.LISTED.get(row.kind, ()):
            continue
        recent = row.age < min_age
        problems.append(model.Problem(
            severity=model.WARNING if recent else model.ERROR,
            code='stuck_recent' if recent else 'stuck',
            message='%s %s for %s on %s%s; settled by %s; else: %s'
                    % (row.kind, row.status, _duration(row.age), row.host,
                       ' (it may still be in progress)' if recent else '',
                       interrupted.WHO_SETTLES[(row.kind, row.status)],
                       interrupted.admin_call(row.kind, row.status, row.id)),
            volume=row.volume_id,
            snapshot=row.id if row.kind == interrupted.SNAPSHOT else None))
    return problems
