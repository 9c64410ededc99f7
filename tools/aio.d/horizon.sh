# shellcheck shell=bash
# Horizon (the dashboard) under uWSGI on $HOST:8080, with the project's
# plugin (dashboard/incsnap_dashboard), against the stack's Keystone and
# Cinder.  Its home is the Volumes panel; without Nova, Glance and Neutron
# in the catalog their panels are not shown.
#
# Python: Horizon and its Django pin are not the services' packages, so
# they get a venv of their own, made once per key like the services' one
# (tools/aio.d/venv.sh): $AIO_VENV_CACHE/horizon-<key>, the key a hash of
# the Python and HORIZON_PIP.  The stack's $AIO/horizon/venv sits on top
# of it (a .pth file) and holds a copy of the openstack_dashboard package
# of its own, because Horizon reads its local_settings.py and its enabled
# files from inside that package (openstack_dashboard/local/): several
# stacks then share Horizon without sharing settings.  The plugin is on
# the venv's path straight from the checkout ($PROJECT/dashboard).
#
# Settings ($ETC/horizon/local_settings.py, linked into the copy):
# Keystone of stack.env, signed-cookie sessions and a local-memory cache
# (no memcached), static files collected and compressed offline into
# $AIO/horizon/static (again only when Horizon, the plugin's files or the
# settings changed), served by uWSGI itself.  uWSGI runs with threads:
# Horizon loads a page's tables in threads.
aio_piece horizon
aio_proc horizon horizon/uwsgi.ini
aio_needs keystone cinder
aio_secret HORIZON_SECRET_KEY DEMO_PASSWORD
aio_restartable horizon

HORIZON_PORT=8080
HORIZON_URL=http://$HOST:$HORIZON_PORT/
HORIZON_DIR=$AIO/horizon
HORIZON_VENV=$HORIZON_DIR/venv
HORIZON_STATIC=$HORIZON_DIR/static
HORIZON_PLUGIN=$PROJECT/dashboard
# Horizon 27.0.0 is the dashboard of the release Cinder 29 belongs to;
# it wants Django < 6.
HORIZON_PIP=('horizon==27.0.0' 'Django>=4.2,<6')
# The demo user: a member of project demo, what a cloud user is.
DEMO_USER=demo
DEMO_PROJECT=demo
aio_port horizon "$HORIZON_PORT"
aio_export HORIZON_URL "$HORIZON_URL"
aio_export HORIZON_USER "$DEMO_USER"
aio_export HORIZON_PROJECT "$DEMO_PROJECT"

horizon_base_key() {
    { readlink -f "$STACK_PYTHON"
      "$STACK_PYTHON" -c 'import sys; print(sys.version)'
      printf '%s\n' "${HORIZON_PIP[@]}" uwsgi
    } | sha1sum | cut -c1-16
}

# The shared Horizon venv (under its own lock, like the services' one).
build_horizon_venv() {
    local base=$1
    [ -f "$base/.aio-complete" ] && return 0
    pip_venv "$base" "$LOG/pip-horizon.log" Horizon "${HORIZON_PIP[@]}"
    printf 'python: %s\npip: %s\n' "$(readlink -f "$STACK_PYTHON")" \
        "${HORIZON_PIP[*]} uwsgi" > "$base/.aio-complete"
}

horizon_site() {
    "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))'
}

# $HORIZON_VENV on top of the shared venv $1, with its own
# openstack_dashboard package.
make_horizon_venv() {
    local base=$1 site base_site
    rm -rf "$HORIZON_VENV"
    "$STACK_PYTHON" -m venv --without-pip "$HORIZON_VENV"
    site=$(horizon_site "$HORIZON_VENV")
    base_site=$(horizon_site "$base")
    echo "$base_site" > "$site/incsnap-aio-horizon.pth"
    echo "$HORIZON_PLUGIN" > "$site/incsnap-dashboard.pth"
    cp -a "$base_site/openstack_dashboard" "$site/openstack_dashboard"
    cp "$base/bin/uwsgi" "$HORIZON_VENV/bin/uwsgi"
    echo "$base" > "$HORIZON_VENV/.aio-pkgs"
    RESTART[horizon]=1
}

horizon_install() {
    local base
    base=$VENV_CACHE/horizon-$(horizon_base_key)
    mkdir -p "$VENV_CACHE"
    ( flock 8; build_horizon_venv "$base" ) 8>"$base.lock"
    if [ "$(cat "$HORIZON_VENV/.aio-pkgs" 2>/dev/null)" != "$base" ]; then
        make_horizon_venv "$base"
    fi
}

horizon_local() {
    echo "$(horizon_site "$HORIZON_VENV")/openstack_dashboard/local"
}

horizon_configure() {
    local local_dir enabled f code
    mkdir -p "$ETC/horizon" "$HORIZON_STATIC"
    write_conf "$ETC/horizon/local_settings.py" horizon <<EOT
# Written by tools/aio (tools/aio.d/horizon.sh): Horizon of the stack in $AIO.
DEBUG = False
ALLOWED_HOSTS = ['$HOST', 'localhost']
SECRET_KEY = '$HORIZON_SECRET_KEY'
WEBROOT = '/'
STATIC_ROOT = '$HORIZON_STATIC'
STATIC_URL = '/static/'
COMPRESS_OFFLINE = True
COMPRESS_ENABLED = True

OPENSTACK_HOST = '$HOST'
OPENSTACK_KEYSTONE_URL = '$KEYSTONE_URL'
OPENSTACK_KEYSTONE_DEFAULT_ROLE = 'member'
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = 'Default'
OPENSTACK_API_VERSIONS = {'identity': 3, 'volume': 3}
OPENSTACK_ENDPOINT_TYPE = 'publicURL'

# No memcached: sessions live in a signed cookie, the cache in memory.
SESSION_ENGINE = 'django.contrib.sessions.backends.signed_cookies'
CACHES = {'default': {
    'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# Only Keystone and Cinder run: home is the Volumes panel.
from openstack_dashboard.settings import HORIZON_CONFIG  # noqa
HORIZON_CONFIG['user_home'] = '/project/volumes/'
HORIZON_CONFIG['password_autocomplete'] = 'off'

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'console': {'level': 'INFO',
                             'class': 'logging.StreamHandler'}},
    'loggers': {
        'horizon': {'handlers': ['console'], 'level': 'INFO'},
        'openstack_dashboard': {'handlers': ['console'], 'level': 'INFO'},
        'openstack_auth': {'handlers': ['console'], 'level': 'INFO'},
        'incsnap_dashboard': {'handlers': ['console'], 'level': 'INFO'},
        'django': {'handlers': ['console'], 'level': 'WARNING'},
    },
}
EOT
    # The plugin runs from the checkout: a change of its code restarts
    # Horizon (uWSGI loads it once).
    code=$(find "$HORIZON_PLUGIN/incsnap_dashboard" -type f -name '*.py' -print0 \
           | sort -z | xargs -0 -r sha1sum)
    write_conf "$HORIZON_DIR/plugin.sha1" horizon <<< "$code"
    local_dir=$(horizon_local)
    ln -sfn "$ETC/horizon/local_settings.py" "$local_dir/local_settings.py"
    # The plugin's enabled files, as an operator installs them.
    enabled=$local_dir/enabled
    for f in "$HORIZON_PLUGIN"/incsnap_dashboard/enabled/_*.py; do
        [ -f "$f" ] || continue
        write_conf "$enabled/$(basename "$f")" horizon < "$f"
    done
    uwsgi_ini "$HORIZON_PORT" \
        "wsgi-file = $(horizon_site "$HORIZON_VENV")/openstack_dashboard/wsgi.py" \
        "$HORIZON_VENV" 4 <<EOT | write_conf "$ETC/horizon/uwsgi.ini" horizon
static-map = /static=$HORIZON_STATIC
static-expires = /* 3600
EOT
}

horizon_manage() {
    (cd "$HORIZON_DIR" && \
        "$HORIZON_VENV/bin/python" -m django "$@" \
            --settings=openstack_dashboard.settings >> "$LOG/horizon-manage.log" 2>&1) \
        || { tail -n 30 "$LOG/horizon-manage.log"; die "horizon: django-admin $1 failed"; }
}

# What the collected static files depend on: Horizon, the plugin's static
# files and templates, the settings.
horizon_static_key() {
    { cat "$HORIZON_VENV/.aio-pkgs"
      cat "$ETC/horizon/local_settings.py"
      find "$HORIZON_PLUGIN/incsnap_dashboard" -type f \
           \( -path '*/static/*' -o -path '*/templates/*' -o -path '*/enabled/*' \) \
           -print0 | sort -z | xargs -0 -r sha1sum
    } | sha1sum | cut -d' ' -f1
}

horizon_collect_static() {
    local key
    key=$(horizon_static_key)
    [ "$(cat "$HORIZON_STATIC/.aio-key" 2>/dev/null)" = "$key" ] && return 0
    say "horizon: collecting and compressing static files (log: $LOG/horizon-manage.log)"
    horizon_manage collectstatic --noinput --clear
    horizon_manage compress --force
    echo "$key" > "$HORIZON_STATIC/.aio-key"
    RESTART[horizon]=1
}

horizon_start() {
    aio_setup demo-user --name "$DEMO_USER" --project "$DEMO_PROJECT" \
        --password "$DEMO_PASSWORD"
    horizon_collect_static
    if needs_start horizon; then
        start_uwsgi horizon root "$HORIZON_VENV" "$ETC/horizon/uwsgi.ini" "$HORIZON_PORT"
    fi
}

horizon_ready() {
    wait_for "horizon on port $HORIZON_PORT" 90 http_ok "${HORIZON_URL}auth/login/"
}

# restart: the process only (up makes the demo user and the static files).
horizon_restart() {
    [ -f "$ETC/horizon/uwsgi.ini" ] || die "no Horizon in $AIO (tools/aio up)"
    stop_svc horizon
    start_uwsgi horizon root "$HORIZON_VENV" "$ETC/horizon/uwsgi.ini" "$HORIZON_PORT"
    horizon_ready
    say "horizon restarted (pid $(running_pid horizon))"
}

horizon_report() {
    [ -n "$(running_pid horizon)" ] || return 0
    local pw=${DEMO_PASSWORD:-$(sed -n 's/^DEMO_PASSWORD=//p' "$AIO/secrets" 2>/dev/null)}
    say "dashboard: $HORIZON_URL  user $DEMO_USER, password $pw" \
        "(project $DEMO_PROJECT; the admin's password is in $AIO/openrc)"
}

horizon_demo() {
    horizon_report
    say "open it in a browser on this machine (it listens on $HOST only)," \
        "e.g. through ssh -L 8080:$HOST:$HORIZON_PORT"
}
