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
"""The volume locks of the driver, held and logged.

:func:`synchronized` is Cinder's ``coordination.synchronized`` (the same
lock names, the same coordination backend: etcd in a cluster, file locks
on one host) whose held section logs one line when it starts and one
when it ends (:mod:`incsnap_driver.lock_log`): which lock, which
operation, which service (``host@backend``) and process, when. From
those lines a test or an admin tells whether two nodes were ever inside
one volume's lock at once. :func:`try_hold` takes a lock without waiting
(the start-up recovery), :func:`hold` further locks inside an operation
(a VM's backup jobs, :func:`domain_lock`), logged the same way.
"""

import contextlib
import inspect
import os
import time
from urllib import parse
import uuid

from cinder import coordination
import decorator
from oslo_log import log as logging

from incsnap_driver import lock_log

LOG = logging.getLogger(__name__)


@contextlib.contextmanager
def logged(names, op, host):
    """Log entering and leaving the held locks ``names`` (held already)."""
    pid = os.getpid()
    tokens = [uuid.uuid4().hex for _name in names]
    for name, token in zip(names, tokens):
        LOG.info('%s', lock_log.line(lock_log.ENTER, name, op, host, pid,
                                     time.time(), token))
    try:
        yield
    finally:
        for name, token in zip(names, tokens):
            LOG.info('%s', lock_log.line(lock_log.EXIT, name, op, host, pid,
                                         time.time(), token))


def synchronized(*lock_names):
    """``coordination.synchronized(*lock_names)``, its section logged.

    The decorated method's ``self.host`` names the holder.
    """
    def wrap(f):
        def _logged(func, *args, **kwargs):
            call_args = inspect.getcallargs(func, *args, **kwargs)
            call_args['f_name'] = func.__name__
            names = sorted({n.format(**call_args) for n in lock_names})
            host = getattr(call_args.get('self'), 'host', None) or ''
            with logged(names, func.__name__, host):
                return func(*args, **kwargs)
        return coordination.synchronized(*lock_names)(
            decorator.decorate(f, _logged))
    return wrap


class _Held:
    """A lock acquired already: its section logged, released on exit."""

    def __init__(self, lock, name, op, host):
        self.lock = lock
        self._log = logged([name], op, host)

    def __enter__(self):
        self._log.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            self._log.__exit__(*exc)
        finally:
            self.lock.release()


@contextlib.contextmanager
def hold(names, op, host):
    """The coordination locks ``names`` held (waiting), logged, released.

    Taken in sorted order, as :func:`synchronized` takes its own.
    """
    names = sorted(set(names))
    with contextlib.ExitStack() as stack:
        for name in names:
            lock = coordination.COORDINATOR.get_lock(name)
            lock.acquire(True)
            stack.callback(lock.release)
        stack.enter_context(logged(names, op, host))
        yield


def domain_lock(instance_uuid):
    """The name of the lock on one VM's backup jobs (any node, any volume).

    libvirt runs one backup job per domain: snapshots of two volumes of
    one VM wait for each other instead of the second failing, also when
    two nodes of a cluster take them.
    """
    return 'incsnap-domain-%s' % instance_uuid


def try_hold(name, op, host):
    """The coordination lock ``name`` held (a context manager), or None.

    None when another holder has it (on any node, with etcd).
    """
    lock = coordination.COORDINATOR.get_lock(name)
    if not lock.acquire(blocking=False):
        return None
    return _Held(lock, name, op, host)


# tooz's etcd3 drivers: a lock is a lease of ``lock_timeout`` seconds
# (30 unless the URL says otherwise), which a killed holder keeps until it
# lapses. File locks die with their holder.
LEASED_SCHEMES = ('etcd3', 'etcd3+http', 'etcd3+https')
DEFAULT_LEASE = 30.0


def lease_seconds(backend_url):
    """How long a dead holder's lock may outlive it (0: not at all)."""
    url = parse.urlsplit(backend_url or '')
    if url.scheme not in LEASED_SCHEMES:
        return 0.0
    values = parse.parse_qs(url.query).get('lock_timeout')
    try:
        return float(values[-1]) if values else DEFAULT_LEASE
    except ValueError:
        return DEFAULT_LEASE
