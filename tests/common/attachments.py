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
"""Volume attachments in Cinder's database, as Nova leaves them.

For the functional suites, which run the driver without Cinder's API:
the records the driver reads (``volume_attachment``: instance UUID and the
compute host's name, ``attached_host``) and the volume's status.
"""


def attach(ctx, volume, instance_uuid, host):
    """An attached attachment of ``volume`` to the instance on ``host``."""
    from cinder import objects
    att = objects.VolumeAttachment(
        context=ctx, volume_id=volume.id, instance_uuid=instance_uuid,
        attached_host=host, attach_status='attached', attach_mode='rw')
    att.create()
    volume.status = 'in-use'
    volume.attach_status = 'attached'
    volume.save()
    return att


def detach(volume, att):
    """The attachment gone, the volume available again."""
    att.attach_status = 'detached'
    att.save()
    att.destroy()
    volume.status = 'available'
    volume.attach_status = 'detached'
    volume.save()
