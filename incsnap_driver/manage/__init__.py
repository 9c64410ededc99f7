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
"""``incsnap-manage``: see, check and tidy the snapshot chains on a share.

    incsnap-manage [--config-file /etc/cinder/cinder.conf] [--backend NAME]
                   [--share-dir PATH] COMMAND

Commands:

``chains [--json]``
    per volume, each snapshot's kind, parent, depth, hidden flag, own size
    (allocated bytes of its file), chain size (own + ancestors), why a full
    was full, and how it was taken (online/offline).
``verify [--json] [--offline] [--min-age S]``
    checks qcow2 chains, backing names, bitmaps and chain documents against
    each other; one line per problem; exit 1 on any error.
``gc [--delete] [--min-age S]``
    lists orphan files (and, with ``--delete`` only, removes them).
``stuck [--json] [--min-age S]``
    lists the volumes and snapshots of our backends' hosts that Cinder
    shows in a transitional status (reverting, restoring, deleting,
    creating, extending), who settles each and the admin's call; exit 1
    when any is older than ``--min-age``. It reads Cinder's database
    (cinder.conf's ``[database]``), not the shares.

Shares come from the backends of cinder.conf whose ``volume_driver`` is
this driver (all in ``enabled_backends``, or those named by ``--backend``):
each share of ``nfs_shares_config`` is looked for at the mount point the
driver itself computes (``<nfs_mount_point_base>/<md5 of the share>``).
``--share-dir`` names a mounted share directly. No Cinder database is
needed but by ``stuck``. Run it as root or as the cinder user, on a host
with the shares mounted.

Exit codes: 0 fine, 1 problems found (verify, stuck) or something
refused (gc), 2 usage or configuration error.

The package, top (this command line) to bottom (the pure rules):

``cli``        options, the command table, exit codes (:mod:`.exits`)
``shares``     which shares to read, from cinder.conf or ``--share-dir``
``cinder_db``  reads Cinder's database for ``stuck``
``commands/``  one module per command: its arguments, its output
``output``     JSON, sizes, printable names, one line per problem
``scan``       reads a share (lstat, chain documents, ``qemu-img -U``)
``tidy``       removes what ``gc --delete`` may remove
``checks/``    pure: verify's rules, orphans, gc's plan, the chain table,
               stuck resources
"""
