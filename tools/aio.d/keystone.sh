# shellcheck shell=bash
# Keystone under uWSGI on $HOST:5000, its catalog on $HOST; the admin's
# client files $AIO/openrc and $AIO/clouds.yaml (cloud incsnap-aio), and
# aio_setup, which runs tools/aio-setup.py (openstacksdk) as that admin.
aio_piece keystone
aio_proc keystone uwsgi
aio_needs postgres
aio_secret ADMIN_PASSWORD
PIP_PKGS+=('keystone>=30,<31')
VENV_PROCS+=(keystone)
DATABASES+=(keystone)

KEYSTONE_PORT=5000
KEYSTONE_URL=http://$HOST:$KEYSTONE_PORT/v3
CLOUD=incsnap-aio
aio_port keystone "$KEYSTONE_PORT"
aio_export KEYSTONE_URL "$KEYSTONE_URL"

keystone_configure() {
    mkdir -p "$ETC/keystone"
    write_conf "$ETC/keystone/keystone.conf" keystone <<EOT
[DEFAULT]
debug = false
use_stderr = true

[database]
connection = $(db_url keystone)

[token]
provider = fernet

[fernet_tokens]
key_repository = $ETC/keystone/fernet-keys

[credential]
key_repository = $ETC/keystone/credential-keys

[oslo_policy]
enforce_scope = false
EOT
    uwsgi_ini "$KEYSTONE_PORT" "module = keystone.wsgi.api:application" <<EOT \
        | write_conf "$ETC/keystone/uwsgi.ini" keystone
env = OS_KEYSTONE_CONFIG_FILES=$ETC/keystone/keystone.conf
EOT
    write_client_config
}

keystone_manage() {
    "$VENV/bin/keystone-manage" --config-file "$ETC/keystone/keystone.conf" "$@" \
        >> "$LOG/keystone-manage.log" 2>&1 \
        || { tail -n 30 "$LOG/keystone-manage.log"; die "keystone-manage $1 failed"; }
}

keystone_start() {
    if [ -n "$(running_pid keystone)" ] && [ -z "${RESTART[keystone]:-}" ]; then
        return 0   # running with this configuration: nothing to do
    fi
    keystone_manage db_sync
    if [ ! -f "$ETC/keystone/fernet-keys/0" ]; then
        keystone_manage fernet_setup --keystone-user root --keystone-group root
        keystone_manage credential_setup --keystone-user root --keystone-group root
    fi
    keystone_manage bootstrap --bootstrap-password "$ADMIN_PASSWORD" \
        --bootstrap-username admin --bootstrap-project-name admin \
        --bootstrap-role-name admin --bootstrap-service-name keystone \
        --bootstrap-region-id RegionOne \
        --bootstrap-admin-url "$KEYSTONE_URL/" \
        --bootstrap-internal-url "$KEYSTONE_URL/" \
        --bootstrap-public-url "$KEYSTONE_URL/"
    if needs_start keystone; then
        start_uwsgi keystone root "$VENV" "$ETC/keystone/uwsgi.ini" "$KEYSTONE_PORT"
    fi
}

keystone_ready() {
    wait_for "keystone on port $KEYSTONE_PORT" 60 http_ok "$KEYSTONE_URL"
}

write_client_config() {
    write_conf "$AIO/openrc" <<EOT
# source me: the admin of the incsnap all-in-one stack
export OS_AUTH_TYPE=password
export OS_AUTH_URL=$KEYSTONE_URL
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PASSWORD
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_VOLUME_API_VERSION=3
case ":\$PATH:" in *":$VENV/bin:"*) ;; *) export PATH=$VENV/bin:\$PATH ;; esac
EOT
    write_conf "$AIO/clouds.yaml" <<EOT
# OS_CLIENT_CONFIG_FILE=$AIO/clouds.yaml OS_CLOUD=$CLOUD openstack ...
clouds:
  $CLOUD:
    auth_type: password
    auth:
      auth_url: $KEYSTONE_URL
      username: admin
      password: $ADMIN_PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
    volume_api_version: 3
EOT
    chmod 0600 "$AIO/openrc" "$AIO/clouds.yaml"
}

source_openrc() {
    # shellcheck disable=SC1091
    . "$AIO/openrc"
}

# Keystone answers and the admin's files are there (status, report hooks).
keystone_answers() {
    [ -f "$AIO/openrc" ] && http_ok "$KEYSTONE_URL" 2>/dev/null
}

# Runs tools/aio-setup.py (openstacksdk) against the admin cloud.
aio_setup() {
    OS_CLIENT_CONFIG_FILE="$AIO/clouds.yaml" OS_CLOUD=$CLOUD \
        "$VENV/bin/python" "$TOP/tools/aio-setup.py" "$@"
}
