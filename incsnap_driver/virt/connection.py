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
"""A libvirt connection whose blocking calls run off the eventlet hub.

``cinder-volume`` runs under eventlet: a blocking libvirt call made from a
green thread would stall every other request of the service for as long as
the call lasts (``backupBegin`` on a remote host, a 30 s wait for a domain's
job lock, ...). As Nova does for its libvirt connection, the connection is
wrapped in :class:`eventlet.tpool.Proxy`: every method call runs in a native
thread of eventlet's pool while the calling green thread yields. The proxy
also wraps the domains and checkpoints the connection returns, so
``dom.backupBegin(...)`` or ``dom.jobStats()`` do not block the hub either.

URIs may hold credentials (``qemu+ssh://user:secret@host/system`` or a
``password=`` query parameter); :func:`redact_uri` masks them and is the
only form of a URI this module logs or puts into a message.
"""

import dataclasses
from urllib import parse

from eventlet import tpool
import libvirt
from oslo_log import log as logging

from incsnap_driver.virt import errors
from incsnap_driver.virt import versions

LOG = logging.getLogger(__name__)

MASK = '***'
# Query parameters whose value is masked by redact_uri().
_SECRET_PARAMS = ('pass', 'secret', 'token', 'auth', 'cred')


def redact_uri(uri):
    """Return ``uri`` with its secrets replaced by ``***``.

    Secrets are the password of the user part and the values of
    password-like query parameters.

    >>> redact_uri('qemu+ssh://admin:s3cret@node1/system?password=x&mode=a')
    'qemu+ssh://admin:***@node1/system?password=***&mode=a'
    """
    try:
        parts = parse.urlsplit(uri)
    except ValueError:
        return '<unparsable libvirt URI>'
    # Edit the text in place: urlunsplit() would turn qemu:///system into
    # qemu:/system.
    redacted = uri
    netloc = parts.netloc
    if '@' in netloc:
        userinfo, _sep, hostport = netloc.rpartition('@')
        if ':' in userinfo:
            masked = userinfo.split(':', 1)[0] + ':' + MASK
            redacted = redacted.replace('//' + netloc,
                                        '//' + masked + '@' + hostport, 1)
    if parts.query:
        pairs = []
        for pair in parts.query.split('&'):
            key, sep, _value = pair.partition('=')
            if sep and any(word in key.lower() for word in _SECRET_PARAMS):
                pair = key + '=' + MASK
            pairs.append(pair)
        redacted = redacted.replace('?' + parts.query,
                                    '?' + '&'.join(pairs), 1)
    return redacted


def scrub(text, uri):
    """Remove ``uri`` and the secrets in it from ``text``.

    A libvirt error message may quote the URI it failed to open.
    """
    text = text.replace(uri, redact_uri(uri))
    try:
        password = parse.urlsplit(uri).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, MASK)
    for pair in parse.urlsplit(uri).query.split('&'):
        key, sep, value = pair.partition('=')
        if (sep and value
                and any(word in key.lower() for word in _SECRET_PARAMS)):
            text = text.replace(value, MASK)
    return text


def build_uri(template, host):
    """Substitute ``{host}`` in a URI template.

    Only ``{host}`` is replaced (no ``str.format``: other braces stay as
    they are). An IPv6 address is put into brackets. A template without
    ``{host}`` (``qemu:///system``) is returned unchanged.
    """
    if '{host}' not in template:
        return template
    if not host:
        raise errors.ConnectionFailed(
            'The libvirt URI template %s needs a host name, but the '
            'attachment names none.' % redact_uri(template))
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host
    return template.replace('{host}', host)


def _ignore_libvirt_errors(_ctx, _err):
    """libvirt prints every error to stderr by default; we raise instead."""


@dataclasses.dataclass(frozen=True)
class HostVersions:
    """Versions reported by the connected libvirt daemon, as tuples."""

    libvirt: tuple
    qemu: tuple
    has_backup_api: bool


class Connection:
    """An open libvirt connection; ``conn`` is the tpool proxy of it.

    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, conn, uri):
        self.conn = conn
        self.uri = uri

    @property
    def safe_uri(self):
        return redact_uri(self.uri)

    def versions(self):
        """:class:`HostVersions` of the connected daemon and hypervisor.

        ``libvirt`` comes from ``getLibVersion`` (the daemon's libvirt on a
        remote URI), ``qemu`` from ``getVersion`` (the hypervisor, e.g.
        ``(7, 2, 22)`` for Debian 12's QEMU 7.2).
        """
        try:
            lib = self.conn.getLibVersion()
            hyp = self.conn.getVersion()
        except libvirt.libvirtError as exc:
            raise errors.ConnectionFailed(
                'Cannot read the versions of libvirt at %s: %s'
                % (self.safe_uri, exc))
        return HostVersions(libvirt=versions.from_libvirt_int(lib),
                            qemu=versions.from_libvirt_int(hyp),
                            has_backup_api=hasattr(libvirt.virDomain,
                                                   'backupBegin'))

    def close(self):
        try:
            self.conn.close()
        except libvirt.libvirtError as exc:
            LOG.debug('Closing the libvirt connection to %s failed: %s',
                      self.safe_uri, exc)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_connection(template, host=None, use_tpool=True):
    """Open a libvirt connection to ``template`` for ``host``.

    ``{host}`` in the template is replaced by ``host``.

    Returns a :class:`Connection`; raises :class:`errors.ConnectionFailed`
    (with the redacted URI) when libvirt cannot be reached. With
    ``use_tpool`` false the raw connection is used (tools, scripts).
    """
    uri = build_uri(template, host)
    safe = redact_uri(uri)
    libvirt.registerErrorHandler(_ignore_libvirt_errors, None)
    LOG.debug('Connecting to libvirt at %s', safe)
    try:
        if use_tpool:
            conn = tpool.execute(libvirt.open, uri)
        else:
            conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise errors.ConnectionFailed(
            'Cannot connect to libvirt%s at %s: %s'
            % (' of compute host %s' % host if host else '', safe,
               scrub(str(exc), uri)))
    if use_tpool:
        conn = tpool.Proxy(conn, autowrap=(libvirt.virConnect,
                                           libvirt.virDomain,
                                           libvirt.virDomainCheckpoint))
    return Connection(conn, uri)
