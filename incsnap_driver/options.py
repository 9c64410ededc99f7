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
"""Configuration options of the incsnap driver.

The options live in the backend's section of cinder.conf (and in
``[backend_defaults]``), like Cinder's own driver options.  Two of them can
be overridden per availability zone; :func:`resolve` states the order:

    per-AZ override  ->  backend section  ->  built-in default

Validation and resolution are plain functions over plain values so that
they can be tested without a Cinder configuration object.
"""

import dataclasses

from oslo_config import cfg
from oslo_config import types
from oslo_utils import strutils

DEFAULT_DELTA_MAX = 16
QUIESCE_MODES = ('off', 'try', 'require')


class _ZoneMap(types.Dict):
    """A dict type whose parse error quotes the text it could not read."""

    def __call__(self, value):
        try:
            return super().__call__(value)
        except ValueError:
            raise ValueError('%r is not "az-name:value" pairs separated by '
                             'commas' % (value,))


def _az_overrides(option, example):
    """The ``<option>_az_overrides`` option: per zone values of ``option``."""
    return cfg.Opt(
        option + '_az_overrides', type=_ZoneMap(), default={},
        help='Per availability zone values of %(opt)s, as "az-name:value" '
             'pairs separated by commas, e.g. "%(example)s". A volume in a '
             'listed zone uses the zone\'s value; other volumes use '
             '%(opt)s.' % {'opt': option, 'example': example})


incsnap_opts = [
    cfg.BoolOpt('kvm_incremental_snapshot',
                default=False,
                help='Take incremental snapshots: after the first (full) '
                     'snapshot of a volume, each snapshot copies only the '
                     'clusters written since the previous one, tracked by a '
                     'persistent QEMU dirty bitmap in the volume. When '
                     'false, every snapshot is a full copy. Needs QEMU >= '
                     '6.1 and, for attached volumes, libvirt >= 7.6.0. Can '
                     'be overridden per availability zone with '
                     'kvm_incremental_snapshot_az_overrides.'),
    cfg.IntOpt('snapshot_delta_max',
               default=DEFAULT_DELTA_MAX,
               help='Longest chain of snapshots: one full snapshot followed '
                    'by at most (snapshot_delta_max - 1) incremental ones; '
                    'the next snapshot is full again. 1 makes every '
                    'snapshot full. Must be an integer >= 1. Can be '
                    'overridden per availability zone with '
                    'snapshot_delta_max_az_overrides.'),
    _az_overrides('kvm_incremental_snapshot', 'az1:true,az2:false'),
    _az_overrides('snapshot_delta_max', 'az1:3,az2:32'),
    cfg.IntOpt('incsnap_copy_timeout',
               default=3600,
               help='Seconds a snapshot or revert copy job may run before it '
                    'is aborted; the partial snapshot file is removed and '
                    'the volume is left as it was. Must be >= 1.'),
    cfg.StrOpt('incsnap_libvirt_uri',
               default='qemu:///system',
               help='libvirt URI used to reach the compute host that runs '
                    'the VM of an attached volume. "{host}" is replaced by '
                    'the host name of the attachment, e.g. '
                    '"qemu+ssh://{host}/system" or "qemu+tls://{host}/system".'
                    ' Credentials in the URI are never logged.'),
    cfg.StrOpt('incsnap_quiesce',
               default='off',
               choices=[
                   ('off', 'never freeze guest file systems'),
                   ('try', 'freeze through the QEMU guest agent when it '
                           'answers, otherwise log and go on'),
                   ('require', 'fail the snapshot when the guest file '
                               'systems cannot be frozen'),
               ],
               help='Freeze the guest file systems of a running VM through '
                    'the QEMU guest agent just before a snapshot job starts, '
                    'thawing right after it started.'),
]


def list_opts():
    """Options for oslo-config-generator (entry point oslo.config.opts)."""
    return [('backend_defaults', incsnap_opts)]


class InvalidOption(ValueError):
    """An option has a value the driver cannot use.

    ``option`` and ``value`` name what is wrong; the driver turns this into
    Cinder's InvalidConfigurationValue at setup.
    """

    def __init__(self, option, value, reason):
        self.option = option
        self.value = value
        self.reason = reason
        if value is None:
            text = 'Invalid value for option %s: %s' % (option, reason)
        else:
            text = 'Invalid value %r for option %s: %s' % (
                value, option, reason)
        super().__init__(text)


@dataclasses.dataclass(frozen=True)
class SnapshotPolicy:
    """The resolved policy for one volume."""

    incremental: bool
    delta_max: int


@dataclasses.dataclass(frozen=True)
class Settings:
    """Validated snapshot settings of one backend."""

    incremental: bool = False
    delta_max: int = DEFAULT_DELTA_MAX
    incremental_by_az: dict = dataclasses.field(default_factory=dict)
    delta_max_by_az: dict = dataclasses.field(default_factory=dict)
    copy_timeout: int = 3600
    libvirt_uri: str = 'qemu:///system'
    quiesce: str = 'off'


def _parse_bool(option, value):
    if isinstance(value, bool):
        return value
    parsed = strutils.bool_from_string(value, strict=False, default=None)
    if parsed is None:
        raise InvalidOption(option, value, 'not a boolean (true/false)')
    return parsed


def _parse_delta_max(option, value):
    if isinstance(value, bool):
        raise InvalidOption(option, value, 'not an integer')
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidOption(option, value, 'not an integer')
    if number < 1:
        raise InvalidOption(option, value, 'must be an integer >= 1')
    return number


def _parse_map(option, raw, parse_value):
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidOption(option, raw,
                            'expected "az-name:value" pairs separated by '
                            'commas')
    parsed = {}
    for zone, value in raw.items():
        zone = str(zone).strip()
        if not zone:
            raise InvalidOption(option, raw,
                                'an entry has an empty availability zone')
        try:
            parsed[zone] = parse_value(option, value)
        except InvalidOption as exc:
            raise InvalidOption(
                option, '%s:%s' % (zone, value),
                'zone %s: %s' % (zone, exc.reason))
    return parsed


def validate(raw):
    """Build :class:`Settings` from raw option values.

    ``raw`` maps option names to the values read from the configuration
    (missing names take their defaults). Raises :class:`InvalidOption`
    naming the first bad option and its value.
    """
    get = raw.get
    timeout = get('incsnap_copy_timeout', 3600)
    try:
        timeout = int(timeout)
    except (TypeError, ValueError):
        raise InvalidOption('incsnap_copy_timeout', timeout,
                            'not an integer')
    if timeout < 1:
        raise InvalidOption('incsnap_copy_timeout', timeout,
                            'must be an integer >= 1')
    quiesce = get('incsnap_quiesce', 'off')
    if quiesce not in QUIESCE_MODES:
        raise InvalidOption('incsnap_quiesce', quiesce,
                            'must be one of %s' % ', '.join(QUIESCE_MODES))
    return Settings(
        incremental=_parse_bool('kvm_incremental_snapshot',
                                get('kvm_incremental_snapshot', False)),
        delta_max=_parse_delta_max('snapshot_delta_max',
                                   get('snapshot_delta_max',
                                       DEFAULT_DELTA_MAX)),
        incremental_by_az=_parse_map(
            'kvm_incremental_snapshot_az_overrides',
            get('kvm_incremental_snapshot_az_overrides'), _parse_bool),
        delta_max_by_az=_parse_map(
            'snapshot_delta_max_az_overrides',
            get('snapshot_delta_max_az_overrides'), _parse_delta_max),
        copy_timeout=timeout,
        libvirt_uri=get('incsnap_libvirt_uri', 'qemu:///system'),
        quiesce=quiesce,
    )


def resolve(settings, availability_zone):
    """The snapshot policy of a volume in ``availability_zone``.

    AZ override -> backend section -> default, for each option separately.
    """
    zone = availability_zone or ''
    return SnapshotPolicy(
        incremental=settings.incremental_by_az.get(zone,
                                                   settings.incremental),
        delta_max=settings.delta_max_by_az.get(zone, settings.delta_max),
    )


def read(configuration):
    """Read and validate the options from a Cinder configuration object.

    Values oslo.config itself cannot parse (a malformed map, a non-integer)
    are reported with the option's name and oslo.config's explanation,
    which quotes the text as written.
    """
    raw = {}
    for opt in incsnap_opts:
        try:
            raw[opt.dest] = getattr(configuration, opt.dest)
        except (ValueError, cfg.ConfigFileValueError) as exc:
            raise InvalidOption(opt.dest, None, str(exc))
    return validate(raw)
