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
"""The share's top level: which name is a volume, a folder, a leftover."""

from incsnap_driver import layout
from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import orphans


def classify_share(entries):
    """Sort the share's top-level entries by name pattern.

    Only names starting with ``volume-`` concern us; of those, names that
    match none of the driver's patterns are *ignored* (and reported).
    """
    listing = model.ShareListing()
    for entry in entries:
        name = entry.name
        volume_id = layout.volume_id_of(name)
        if volume_id:
            listing.volumes[volume_id] = entry
            continue
        volume_id = layout.snapshot_dir_volume_id_of(name)
        if volume_id:
            listing.folders[volume_id] = entry
            continue
        if layout.volume_part_id_of(name):
            listing.parts.append(entry)
            continue
        if layout.volume_info_id_of(name):
            continue
        if name.startswith(layout.VOLUME_PREFIX):
            listing.ignored.append(entry)
    return listing


PART_REASON = 'leftover of an interrupted revert or volume copy'


def share_problems(listing, min_age=0):
    """Problems of the top level: leftovers, ignored names."""
    problems = []
    for entry in listing.parts:
        problems.append(orphans.orphan_problem(
            layout.volume_part_id_of(entry.name), entry.name, entry,
            PART_REASON, min_age))
    for entry in listing.ignored:
        problems.append(model.Problem(
            model.INFO, 'ignored_name', 'name does not match the driver\'s '
            'patterns; ignored', file=entry.name))
    return problems
