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
"""How ``incsnap-manage`` writes: JSON, sizes, and names made printable."""

import json


def to_json(value):
    return json.dumps(value, indent=1, sort_keys=True)


def size(value):
    """``value`` bytes for a person: ``512 B``, ``1.5 MiB``; None: ``-``."""
    if value is None:
        return '-'
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(value) < 1024 or unit == 'TiB':
            return ('%d %s' % (value, unit) if unit == 'B'
                    else '%.1f %s' % (value, unit))
        value /= 1024.0


def printable(text):
    """``text`` with its control characters escaped.

    A hostile file name then cannot forge output lines or drive the
    terminal.
    """
    return ''.join(c if c.isprintable() else
                   c.encode('unicode_escape').decode('ascii')
                   for c in str(text))


def format_problem(problem):
    """One line: severity, where (volume, snapshot, file), what, code."""
    where = []
    if problem.volume:
        where.append('volume %s' % problem.volume)
    if problem.snapshot:
        where.append('snapshot %s' % problem.snapshot)
    if problem.file:
        where.append('file %s' % problem.file)
    return printable('%-7s %s: %s [%s]' % (
        problem.severity.upper(), ' '.join(where), problem.message,
        problem.code))
