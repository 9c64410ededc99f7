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
"""A small synchronous QMP client over a UNIX socket.

Protocol facts (QEMU Machine Protocol, QEMU 7.2):

* The server speaks first: a greeting ``{"QMP": {...}}``. Nothing but
  ``qmp_capabilities`` is accepted until that command has run.
* Every message is one JSON object on one line. A command is
  ``{"execute": NAME, "arguments": {...}, "id": ID}``; its answer is
  ``{"return": ...}`` or ``{"error": {"class": ..., "desc": ...}}`` and
  carries the same ``id``.
* Asynchronous events ``{"event": NAME, "data": ..., "timestamp": ...}``
  may arrive between a command and its answer; they are kept in
  :attr:`QMPClient.events` in arrival order.

Why not the ``qemu.qmp`` package: it is built on asyncio, while
cinder-volume runs under eventlet. A blocking socket here becomes a green
socket once eventlet has monkey-patched ``socket``, so this client yields to
the hub like any other I/O of the service.
"""

import json
import socket
import struct


class QMPError(Exception):
    """QEMU answered a command with an error."""

    def __init__(self, command, error_class, desc):
        self.command = command
        self.error_class = error_class
        self.desc = desc
        super().__init__('QMP %s failed: %s (%s)' % (command, desc,
                                                     error_class))


class QMPConnectionError(Exception):
    """The QMP socket could not be reached or closed unexpectedly."""


class QMPClient:
    """One connection to a QMP monitor socket."""

    def __init__(self, path, timeout=30.0):
        self.path = path
        self.timeout = timeout
        self.events = []
        self._sock = None
        self._file = None
        self._next_id = 0

    def connect(self):
        """Connect, read the greeting and negotiate capabilities."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise QMPConnectionError('cannot connect to QMP socket %s: %s'
                                     % (self.path, exc))
        self._sock = sock
        self._file = sock.makefile('rwb')
        greeting = self._read_message()
        if 'QMP' not in greeting:
            self.close()
            raise QMPConnectionError('unexpected QMP greeting on %s: %r'
                                     % (self.path, greeting))
        self.execute('qmp_capabilities')
        return greeting

    def peer_pid(self):
        """The pid of the process on the other end (SO_PEERCRED).

        For a connection to a listening UNIX socket, the kernel reports
        the process that listened on it.
        """
        creds = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                      struct.calcsize('3i'))
        pid, _uid, _gid = struct.unpack('3i', creds)
        return pid

    def close(self):
        for closable in (self._file, self._sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass
        self._file = None
        self._sock = None

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _read_message(self):
        try:
            line = self._file.readline()
        except (OSError, socket.timeout) as exc:
            raise QMPConnectionError('reading from QMP socket %s failed: %s'
                                     % (self.path, exc))
        if not line:
            raise QMPConnectionError('QMP socket %s closed' % self.path)
        return json.loads(line)

    def execute(self, command, **arguments):
        """Run one command; return its ``return`` value or raise QMPError."""
        if self._file is None:
            raise QMPConnectionError('not connected to %s' % self.path)
        self._next_id += 1
        request_id = 'incsnap-%d' % self._next_id
        message = {'execute': command, 'id': request_id}
        if arguments:
            message['arguments'] = arguments
        try:
            self._file.write(json.dumps(message).encode('utf-8') + b'\n')
            self._file.flush()
        except OSError as exc:
            raise QMPConnectionError('writing to QMP socket %s failed: %s'
                                     % (self.path, exc))
        while True:
            reply = self._read_message()
            if 'event' in reply:
                self.events.append(reply)
                continue
            if reply.get('id') != request_id:
                continue
            if 'error' in reply:
                err = reply['error']
                raise QMPError(command, err.get('class'), err.get('desc'))
            return reply.get('return')

    def quit(self):
        """Ask QEMU to exit cleanly (persistent bitmaps are written then).

        QEMU may close the socket before or after answering.
        """
        try:
            self.execute('quit')
        except QMPConnectionError:
            pass
        finally:
            self.close()
