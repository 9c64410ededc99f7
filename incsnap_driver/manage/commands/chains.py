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
"""``chains``: each volume's snapshot chain, as a table or JSON."""

from incsnap_driver.manage.checks import table
from incsnap_driver.manage import exits
from incsnap_driver.manage import output
from incsnap_driver.manage import scan as scan_mod

NAME = 'chains'
HELP = 'show each volume\'s snapshot chain'
HEADER = ('snapshot', 'kind', 'parent', 'depth', 'hidden', 'own', 'chain',
          'full reason', 'mode')


def add_arguments(parser):
    parser.add_argument('--json', action='store_true',
                        help='print JSON instead of a table')


def report(shares):
    """[{share, volumes: [{volume, head, ..., snapshots: rows}]}]."""
    result = []
    for share in shares:
        _listing, scans = scan_mod.scan_share(share.path, deep=False)
        volumes = []
        for scan in scans:
            volumes.append({
                'volume': scan.volume_id,
                'volume_file_present': scan.volume is not None,
                'head': scan.chain.head if scan.chain else None,
                'journal': scan.chain.journal if scan.chain else None,
                'error': scan.chain_error,
                'snapshots': table.chain_rows(scan)})
        result.append({'share': share.label, 'volumes': volumes})
    return result


def run(conf, shares, out):
    result = report(shares)
    if conf.command.json:
        out.write(output.to_json(result) + '\n')
        return exits.EXIT_OK
    status = exits.EXIT_OK
    for share in result:
        out.write('share %s\n' % share['share'])
        if not share['volumes']:
            out.write('  (no volume with snapshots)\n')
        for volume in share['volumes']:
            if not write_volume(volume, out):
                status = exits.EXIT_PROBLEMS
    out.write('\n(* head: the snapshot whose bitmap the volume carries)\n')
    return status


def write_volume(volume, out):
    """One volume's table; False when its chain document is unreadable."""
    out.write('\nvolume %s  head %s%s\n' % (
        volume['volume'], volume['head'] or '-',
        '' if volume['volume_file_present'] else '  (volume file missing)'))
    if volume['error']:
        out.write('  UNREADABLE: %s\n' % output.printable(volume['error']))
        return False
    if not volume['snapshots']:
        out.write('  (no snapshots)\n')
        return True
    rows = [HEADER]
    for row in volume['snapshots']:
        rows.append(tuple(output.printable(cell) for cell in (
            row['id'] + (' *' if row['head'] else ''),
            row['kind'], row['parent'] or '-', str(row['depth']),
            'yes' if row['hidden'] else 'no',
            output.size(row['own_bytes']) if row['present'] else 'MISSING',
            output.size(row['chain_bytes']),
            row['full_reason'] or '-', row['mode'] or '-')))
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    for row in rows:
        out.write('  ' + '  '.join(
            cell.ljust(width) for cell, width in zip(row, widths)
        ).rstrip() + '\n')
    return True
