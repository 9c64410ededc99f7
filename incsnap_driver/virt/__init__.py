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
"""libvirt mechanics for snapshots of attached volumes (running VMs).

Knows nothing of Cinder. The online snapshot of one volume, as
:mod:`incsnap_driver.ops.snapshot` wires it through
:mod:`incsnap_driver.online` (names of checkpoints and files are the
caller's)::

    conn = connection.open_connection(uri_template, host)
    found = conn.versions()
    versions.check(found.libvirt, found.qemu, incremental,
                   found.has_backup_api)
    disk = domain.find_attached_disk(conn.conn, instance_uuid,
                                     'volume-<vid>')
    if disk is None: ...                       # not running: offline path
    parent = None
    if incremental and parent_checkpoint:
        try:
            checkpoints.ensure_checkpoint(disk, parent_checkpoint,
                                          saved_parent_xml)
            parent = parent_checkpoint
        except errors.CheckpointUnusable as exc:
            reason = exc.reason                # full snapshot, recorded
    result = backup.run_backup(disk, 'volume-<vid>.incsnap/<file>.part',
                               checkpoint_name=new_checkpoint,
                               incremental=parent, timeout=..., ...)
    # store result.checkpoint_xml; if parent:
    #     imagelock.wait_unlocked + rebase -u
    checkpoints.prune(disk, keep=[new_checkpoint], saved_xml=...)

Modules: connection (tpool-proxied connection, URI redaction, versions),
versions (the pure version gate), domain (domain and disk lookup),
checkpoints (checkpoint XML, redefine/validate, delete), backup (one
push-mode backup job), imagelock (QEMU's lock on a finished target),
errors.
"""
