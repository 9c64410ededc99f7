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
"""What the backup driver's tests and benchmark share: a counting file,
Cinder's notifier set up in-process."""

import os

from oslo_config import cfg

CONF = cfg.CONF


class CountingFile(object):
    """A file object that counts the bytes read through it."""

    def __init__(self, f):
        self._f = f
        self.name = f.name
        self.bytes_read = 0

    def read(self, size=-1):
        data = self._f.read(size)
        self.bytes_read += len(data)
        return data

    def seek(self, offset, whence=os.SEEK_SET):
        return self._f.seek(offset, whence)

    def tell(self):
        return self._f.tell()


def init_notifier(driver='test'):
    """Cinder's notifier on an oslo.messaging driver, once per process.

    ``test`` keeps the notifications in memory
    (``oslo_messaging.notify._impl_test.NOTIFICATIONS``), ``noop`` drops
    them. The transport is oslo.messaging's in-process ``fake:/``.
    """
    from cinder import rpc
    import oslo_messaging
    if not rpc.initialized():
        oslo_messaging.get_notification_transport(CONF, url='fake:/')
        CONF.set_override('transport_url', 'fake:/')
        CONF.set_override('driver', [driver],
                          group='oslo_messaging_notifications')
        rpc.init(CONF)
