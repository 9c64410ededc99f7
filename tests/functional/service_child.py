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
"""A volume service that runs one request, for a test to kill mid-way.

``python -m tests.functional.service_child GROUP SPEED OPERATION ID... \
--config-file CONF --log-file LOG``

It starts as cinder-volume does (eventlet monkey patching, the service
record, Cinder's ``VolumeManager`` with its ``init_host``: the driver's
set-up and start-up scan, Cinder's own clean-up), prints ``ready``, then
does what the API does before it casts the request (statuses, the
workers table row) and calls the manager method the RPC server would
call, and prints ``done``. Operations:
``revert VOLUME SNAPSHOT``, ``snapshot SNAPSHOT``, ``from-snapshot
VOLUME SNAPSHOT``.

``SPEED``: ``volume_copy_bps_limit`` of this process, so that its copies
are still running when the test kills it (the driver makes it the speed
of its QEMU jobs). What stands in: Cinder's own use of that option, a
blkio cgroup for its ``dd`` copies (``set_throttle`` at ``init_host``),
cannot be made on these machines (no cgroup v1 blkio controller, no
``cgcreate``), so this process skips it; the driver has no ``dd`` copy.
"""

from cinder import monkey_patch
monkey_patch.patch()

import sys  # noqa: E402

from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402


def _service(ctxt, host):
    from cinder import exception
    from cinder import objects
    from cinder.objects import base as objects_base
    from cinder.volume import manager as manager_mod
    try:
        return objects.Service.get_by_args(ctxt, host, 'cinder-volume')
    except exception.ServiceNotFound:
        # As cinder.service.Service records itself.
        service = objects.Service(
            ctxt, host=host, binary='cinder-volume', topic='cinder-volume',
            report_count=0, availability_zone='nova',
            rpc_current_version=manager_mod.VolumeManager.RPC_API_VERSION,
            object_current_version=objects_base.OBJ_VERSIONS.get_current())
        service.create()
        return service


def main(argv):
    group, speed, operation, *ids = argv[:argv.index('--config-file')]
    from cinder import objects
    objects.register_all()
    from cinder.common import config  # noqa: F401
    from cinder import context
    from cinder import coordination
    from cinder import rpc
    from cinder import service as service_mod
    from cinder.volume import driver as base_driver
    from cinder.volume import manager as manager_mod

    conf = cfg.CONF
    logging.register_options(conf)
    conf(argv[argv.index('--config-file'):], project='cinder')
    conf.register_opts(base_driver.volume_opts, group=group)
    conf.set_override('volume_copy_bps_limit', int(speed), group=group)
    logging.setup(conf, 'cinder')
    rpc.init(conf)
    coordination.COORDINATOR.start()
    ctxt = context.get_admin_context()
    host = '%s@%s' % (conf.host, group)
    service = _service(ctxt, host)
    service_mod.Service.service_id = service.id
    manager = manager_mod.VolumeManager(service_name=group, host=host)
    manager.driver.set_throttle = lambda: None  # see the module's doc
    manager.init_host(service_id=service.id)
    manager.driver.startup_recovery.thread.wait()
    print('ready', flush=True)
    if operation == 'revert':
        volume = objects.Volume.get_by_id(ctxt, ids[0])
        snapshot = objects.Snapshot.get_by_id(ctxt, ids[1])
        # cinder.volume.api.API.revert_to_snapshot
        assert volume.update_single_status_where('reverting', 'available')
        assert snapshot.update_single_status_where('restoring', 'available')
        manager.revert_to_snapshot(ctxt, volume, snapshot)
    elif operation == 'snapshot':
        snapshot = objects.Snapshot.get_by_id(ctxt, ids[0])
        snapshot.create_worker()  # cinder.volume.rpcapi
        manager.create_snapshot(ctxt, snapshot)
    elif operation == 'from-snapshot':
        volume = objects.Volume.get_by_id(ctxt, ids[0])
        volume.create_worker()  # cinder.scheduler.rpcapi
        spec = objects.RequestSpec(snapshot_id=ids[1], volume_id=volume.id)
        manager.create_volume(ctxt, volume, request_spec=spec,
                              filter_properties={}, allow_reschedule=False)
    else:
        raise SystemExit('unknown operation %s' % operation)
    print('done', flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
