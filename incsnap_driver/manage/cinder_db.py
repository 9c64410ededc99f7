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
"""Reading Cinder's database through cinder.conf (``incsnap-manage stuck``).

Cinder's own database API, configured by cinder.conf's ``[database]``
section, reads the volumes and snapshots of each of our backends' hosts
(``<backend_host or host>@<backend>``, as cinder-volume names its
service) in a status :data:`incsnap_driver.interrupted.LISTED`. Nothing
is written.
"""

from oslo_config import cfg
from oslo_utils import timeutils

from incsnap_driver import interrupted
from incsnap_driver.manage.checks import stuck as stuck_checks
from incsnap_driver.manage import exits
from incsnap_driver.manage import shares

# cinder.cmd.volume defines it; the same definition here.
BACKEND_HOST_OPT = cfg.StrOpt('backend_host',
                              help='Backend override of host value.')


def backend_hosts(conf, names):
    """[(backend, host@backend)] of our backends in cinder.conf."""
    from cinder.volume import configuration

    result = []
    for name in shares.our_backends(conf, names):
        bconf = configuration.Configuration([BACKEND_HOST_OPT],
                                            config_group=name)
        result.append((name, '%s@%s' % (bconf.safe_get('backend_host') or
                                        conf.host, name)))
    return result


def _age(now, row):
    changed = row.updated_at or row.created_at
    return (now - changed).total_seconds() if changed else 0.0


def stuck_rows(conf, hosts):
    """[StuckRow] of these hosts; UsageError when the database fails."""
    shares.quiet_imports()
    from cinder import context
    from cinder.db import api as db
    from oslo_db import exception as db_exception

    ctxt = context.get_admin_context()
    now = timeutils.utcnow()
    rows = []
    try:
        for host in hosts:
            for volume in db.volume_get_all_by_host(
                    ctxt, host, filters={'status': list(
                        interrupted.LISTED[interrupted.VOLUME])}):
                rows.append(stuck_checks.StuckRow(
                    interrupted.VOLUME, volume.id, volume.id, volume.status,
                    volume.host, _age(now, volume)))
            for status in interrupted.LISTED[interrupted.SNAPSHOT]:
                for snap in db.snapshot_get_all_by_host(
                        ctxt, host, filters={'status': status}):
                    rows.append(stuck_checks.StuckRow(
                        interrupted.SNAPSHOT, snap.id, snap.volume_id,
                        snap.status, host, _age(now, snap)))
    except db_exception.DBError as exc:
        raise exits.UsageError(
            'cannot read Cinder\'s database ([database] connection in %s): '
            '%s' % (', '.join(conf.config_file) or 'the configuration',
                    exc.__class__.__name__))
    return rows
