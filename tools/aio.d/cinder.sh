# shellcheck shell=bash
# Cinder: cinder-api (uWSGI on $HOST:8776), cinder-scheduler,
# cinder-volume with the backends that backend pieces add, all as the
# system user cinder, whose root commands really go through sudo and
# cinder-rootwrap with the filter files.
#
# What other pieces add to Cinder (they are sourced before this file):
#   CINDER_BACKENDS+=(name)      enabled_backends (the first: default type)
#   CINDER_DRIVERS+=(driver)     shown in messages
#   CINDER_CONF_HOOKS+=(fn)      fn prints lines appended to cinder.conf;
#                                oslo.config merges a section that appears
#                                twice, so a piece may add to [DEFAULT] too
#   CINDER_COORDINATION_URL=...  [coordination] backend_url (etcd.sh sets
#                                the stack's etcd; else file locks in
#                                data/locks)
#   CINDER_NODE_HOOKS+=(fn)      fn N prints lines of node N's own
#                                configuration file (N >= 2)
# and a piece of a further Cinder service (cinder-backup, a second
# cinder-volume) starts it with start_cinder_svc NAME [BINARY [ARGS]].
#
# Two nodes (tools/aio up --nodes 2): cinder-volume and cinder-volume-2,
# both in [DEFAULT] cluster = $CINDER_CLUSTER, each reading
# etc/cinder/cinder-volume-N.conf after cinder.conf: node 2 has its own
# host (aio-2), state_path (data/cinder-2) and lock_path, and each what
# CINDER_NODE_HOOKS add (its own nfs_mount_point_base: backend-incsnap.sh).
# AIO_COORDINATION_URL=file://DIR gives node N file locks in DIR-N: the
# control run, where the nodes do not exclude each other.
aio_piece cinder
aio_proc cinder-api uwsgi
aio_proc cinder-scheduler
aio_proc cinder-volume
CINDER_VOLUMES=(cinder-volume)
if [ "$NODES" -ge 2 ]; then
    aio_proc cinder-volume-2 cinder-volume-2.conf
    CINDER_VOLUMES+=(cinder-volume-2)
fi
aio_needs postgres rabbitmq keystone libvirt etcd
aio_secret CINDER_PASSWORD
aio_restartable "${CINDER_VOLUMES[@]}" cinder-scheduler
DEBS+=(sudo curl)
PIP_PKGS+=('cinder>=29,<30' python-cinderclient)
VENV_PROCS+=(cinder-api cinder-scheduler "${CINDER_VOLUMES[@]}")
DATABASES+=(cinder)

CINDER_PORT=8776
CINDER_URL=http://$HOST:$CINDER_PORT
aio_port cinder-api "$CINDER_PORT"
CINDER_HOST=aio                # [DEFAULT] host: services show as aio, aio@incsnap
CINDER_CLUSTER=aio-cluster     # [DEFAULT] cluster with two nodes
CINDER_CLUSTER_ON=$( [ "$NODES" -ge 2 ] && echo 1 || true)
CINDER_USER=cinder
DEBUG=${AIO_DEBUG:-true}
CINDER_COORDINATION_URL=${CINDER_COORDINATION_URL:-file://$DATA/locks}
aio_export CINDER_URL "$CINDER_URL"
if [ "$NODES" -ge 2 ]; then aio_export CINDER_CLUSTER "$CINDER_CLUSTER"; fi

# Node N's [DEFAULT] host (aio, aio-2), its configuration file, its
# cinder-volume process.
node_host() { if [ "$1" = 1 ]; then echo "$CINDER_HOST"; else echo "$CINDER_HOST-$1"; fi; }
node_conf() { echo "$ETC/cinder/cinder-volume-$1.conf"; }
node_service() { if [ "$1" = 1 ]; then echo cinder-volume; else echo "cinder-volume-$1"; fi; }

# AIO_COORDINATION_URL: the nodes' [coordination] instead of the stack's
# (cinder.conf); with two nodes it goes into each node's own file, so that
# changing it restarts only the nodes, and file://DIR becomes DIR-N: file
# locks of each node's own, the control run where nodes exclude nothing.
NODE_COORDINATION_URL=${AIO_COORDINATION_URL:-}
if [ -n "$NODE_COORDINATION_URL" ] && [ "$NODES" -lt 2 ]; then
    CINDER_COORDINATION_URL=$NODE_COORDINATION_URL
fi
node_coordination() {
    local url=$NODE_COORDINATION_URL
    [ -n "$url" ] || return 0
    case $url in file://*) url=$url-$1
        install -d -o "$CINDER_USER" -g "$CINDER_USER" "${url#file://}" ;;
    esac
    printf '\n[coordination]\n# AIO_COORDINATION_URL (tools/aio)\nbackend_url = %s\n' "$url"
}

# Cinder runs "sudo cinder-rootwrap <conf> ...": sudo looks the name up in
# the user's secure_path, one for user cinder on the whole machine.  So
# that several stacks (each with its venv) share it, the first directory
# on that path holds one cinder-rootwrap that runs the cinder-rootwrap of
# the stack the configuration file belongs to; each stack's sudoers file
# allows that command with its own rootwrap.conf only.
ROOTWRAP_DIR=/usr/local/lib/incsnap-aio/bin
SUDOERS=/etc/sudoers.d/incsnap-aio
SUDOERS_STACK=$SUDOERS-$(printf '%s' "$AIO" | md5sum | cut -c1-12)

install_sudoers() {   # FILE, content on stdin
    local tmp=$1.tmp
    cat > "$tmp"
    chmod 0440 "$tmp"
    visudo -cf "$tmp" >/dev/null || { rm -f "$tmp"; die "bad sudoers rule in $tmp"; }
    mv "$tmp" "$1"
}

ensure_cinder_user() {
    if ! id "$CINDER_USER" >/dev/null 2>&1; then
        say "creating system user $CINDER_USER"
        useradd --system --user-group --home-dir /var/lib/cinder \
            --no-create-home --shell /usr/sbin/nologin "$CINDER_USER"
    fi
    # libvirt's socket is group libvirt: in-use volumes need it later.
    if getent group libvirt >/dev/null && ! id -nG "$CINDER_USER" | grep -qw libvirt; then
        usermod -a -G libvirt "$CINDER_USER"
    fi
    local wrapper
    wrapper=$(cat <<'EOT'
#!/bin/sh
# Written by tools/aio (tools/aio.d/cinder.sh).  sudo finds this
# cinder-rootwrap first on user cinder's secure_path; it runs the
# cinder-rootwrap of the stack whose configuration it is given:
# <stack>/etc/cinder/rootwrap.conf -> <stack>/venv/bin/cinder-rootwrap.
# Which configurations may be given is up to the sudoers rules.
case $1 in
    /*/etc/cinder/rootwrap.conf) ;;
    *) echo "cinder-rootwrap (tools/aio): not a stack's rootwrap.conf: $1" >&2; exit 1 ;;
esac
exec "${1%/etc/cinder/rootwrap.conf}/venv/bin/cinder-rootwrap" "$@"
EOT
)
    if [ "$(cat "$ROOTWRAP_DIR/cinder-rootwrap" 2>/dev/null)" != "$wrapper" ]; then
        install -d -m 0755 "$ROOTWRAP_DIR"
        printf '%s\n' "$wrapper" > "$ROOTWRAP_DIR/cinder-rootwrap.tmp"
        chmod 0755 "$ROOTWRAP_DIR/cinder-rootwrap.tmp"
        mv "$ROOTWRAP_DIR/cinder-rootwrap.tmp" "$ROOTWRAP_DIR/cinder-rootwrap"
    fi
    local defaults rule
    defaults=$(printf '# written by tools/aio: user cinder of every stack\n%s\n%s' \
        "Defaults:$CINDER_USER !requiretty" \
        "Defaults:$CINDER_USER secure_path=\"$ROOTWRAP_DIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"")
    if [ "$(cat "$SUDOERS" 2>/dev/null)" != "$defaults" ]; then
        printf '%s\n' "$defaults" | install_sudoers "$SUDOERS"
    fi
    rule=$(printf '# written by %s/tools/aio: the stack in %s\n%s' "$TOP" "$AIO" \
        "$CINDER_USER ALL = (root) NOPASSWD: $ROOTWRAP_DIR/cinder-rootwrap $ETC/cinder/rootwrap.conf *")
    if [ "$(cat "$SUDOERS_STACK" 2>/dev/null)" != "$rule" ]; then
        printf '%s\n' "$rule" | install_sudoers "$SUDOERS_STACK"
    fi
}

cinder_install() {
    with_machine_lock ensure_cinder_user
    setpriv --reuid="$CINDER_USER" --regid="$CINDER_USER" --init-groups -- \
        "$VENV/bin/python" -c 'import subprocess, sys; subprocess.check_call([sys.executable, "-W", "ignore", "-c", "import cinder"])' \
        || die "user $CINDER_USER cannot run $VENV/bin/python (see AIO_PYTHON)"
}

cinder_configure() {
    local all=(cinder-api cinder-scheduler "${CINDER_VOLUMES[@]}") f fn n
    mkdir -p "$ETC/cinder/rootwrap.d" "$DATA/locks"
    install -d -o "$CINDER_USER" -g "$CINDER_USER" "$DATA/cinder" \
        "$DATA/cinder/locks" "$DATA/locks"
    case $CINDER_COORDINATION_URL in
        file://*) install -d -o "$CINDER_USER" -g "$CINDER_USER" \
                      "${CINDER_COORDINATION_URL#file://}" ;;
    esac
    # Cinder services append to their log files as user cinder.
    for f in cinder-api cinder-scheduler "${CINDER_VOLUMES[@]}" cinder-manage; do
        touch "$LOG/$f.log"; chown "$CINDER_USER" "$LOG/$f.log"
    done
    local backends
    backends=$(IFS=,; echo "${CINDER_BACKENDS[*]}")
    { cat <<EOT
[DEFAULT]
debug = $DEBUG
use_stderr = true
host = $CINDER_HOST
my_ip = $HOST
state_path = $DATA/cinder
transport_url = rabbit://incsnap:$RABBIT_PASSWORD@$HOST:$RABBIT_PORT/
auth_strategy = keystone
api_paste_config = $ETC/cinder/api-paste.ini
resource_query_filters_file = $ETC/cinder/resource_filters.json
rootwrap_config = $ETC/cinder/rootwrap.conf
enabled_backends = $backends
default_volume_type = ${CINDER_BACKENDS[0]}
osapi_volume_listen = $HOST
osapi_volume_listen_port = $CINDER_PORT
$( [ "$NODES" -ge 2 ] && printf 'cluster = %s\n%s\n%s\n%s\n' "$CINDER_CLUSTER" \
    '# a dead node shows down after 30 s (workers cleanup), not 60' \
    'report_interval = 5' 'service_down_time = 30' )

[database]
connection = $(db_url cinder)

[keystone_authtoken]
www_authenticate_uri = $KEYSTONE_URL
auth_url = $KEYSTONE_URL
auth_type = password
username = cinder
password = $CINDER_PASSWORD
project_name = service
user_domain_name = Default
project_domain_name = Default
service_token_roles_required = true

[oslo_concurrency]
lock_path = $DATA/cinder/locks

[coordination]
backend_url = $CINDER_COORDINATION_URL

[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOT
      for fn in "${CINDER_CONF_HOOKS[@]}"; do "$fn"; done
    } | write_conf "$ETC/cinder/cinder.conf" "${all[@]}"
    # Two nodes: each reads a file of its own after cinder.conf.
    local svc
    for (( n=1; n<=NODES && NODES>=2; n++ )); do
        svc=$(node_service "$n")
        { printf '# written by tools/aio: node %s of the cluster %s, read after\n# cinder.conf by %s\n' \
              "$n" "$CINDER_CLUSTER" "$svc"
          if [ "$n" -ge 2 ]; then
              install -d -o "$CINDER_USER" -g "$CINDER_USER" "$DATA/cinder-$n" \
                  "$DATA/cinder-$n/locks"
              cat <<EOT
[DEFAULT]
host = $(node_host "$n")
state_path = $DATA/cinder-$n

[oslo_concurrency]
lock_path = $DATA/cinder-$n/locks
EOT
          fi
          node_coordination "$n"
          for fn in "${CINDER_NODE_HOOKS[@]}"; do "$fn" "$n"; done
        } | write_conf "$(node_conf "$n")" "$svc"
    done
    write_conf "$ETC/cinder/api-paste.ini" cinder-api < "$PKG_VENV/etc/cinder/api-paste.ini"
    write_conf "$ETC/cinder/resource_filters.json" cinder-api \
        < "$PKG_VENV/etc/cinder/resource_filters.json"

    # Root helper: sudo + cinder-rootwrap with Cinder's filters, os-brick's,
    # the project's own (etc/incsnap/rootwrap.d) and one of this stack's.
    write_conf "$ETC/cinder/rootwrap.conf" <<EOT
[DEFAULT]
filters_path = $ETC/cinder/rootwrap.d
exec_dirs = /sbin,/usr/sbin,/bin,/usr/bin,/usr/local/sbin,/usr/local/bin,$VENV/bin
use_syslog = False
EOT
    local keep=(volume.filters os-brick.filters aio-privsep.filters)
    write_conf "$ETC/cinder/rootwrap.d/volume.filters" "${CINDER_VOLUMES[@]}" \
        < "$PKG_VENV/etc/cinder/rootwrap.d/volume.filters"
    write_conf "$ETC/cinder/rootwrap.d/os-brick.filters" "${CINDER_VOLUMES[@]}" \
        < "$PKG_VENV/etc/os-brick/rootwrap.d/os-brick.filters"
    # Cinder's privsep filters only allow a config file under /etc/; this
    # stack's config lives in $ETC.
    local conf_re
    conf_re=$(printf '%s' "$ETC/cinder/cinder.conf" | sed 's/[.]/\\./g')
    write_conf "$ETC/cinder/rootwrap.d/aio-privsep.filters" "${CINDER_VOLUMES[@]}" <<EOT
# written by tools/aio: privsep helpers started with this stack's config
[Filters]
aio-privsep-os_brick: RegExpFilter, privsep-helper, root, privsep-helper, --config-file, $conf_re, --privsep_context, os_brick\.privileged\.default, --privsep_sock_path, /tmp/.*
aio-privsep-sys_admin: RegExpFilter, privsep-helper, root, privsep-helper, --config-file, $conf_re, --privsep_context, cinder\.privsep\.sys_admin_pctxt, --privsep_sock_path, /tmp/.*
EOT
    if [ -d "$PROJECT/etc/incsnap/rootwrap.d" ]; then
        for f in "$PROJECT"/etc/incsnap/rootwrap.d/*; do
            [ -f "$f" ] || continue
            write_conf "$ETC/cinder/rootwrap.d/$(basename "$f")" "${CINDER_VOLUMES[@]}" < "$f"
            keep+=("$(basename "$f")")
        done
    fi
    # Filter files the project no longer ships go away.
    for f in "$ETC"/cinder/rootwrap.d/*; do
        [ -f "$f" ] || continue
        if ! printf '%s\n' "${keep[@]}" | grep -qxF "$(basename "$f")"; then
            rm -f "$f"; for s in "${CINDER_VOLUMES[@]}"; do RESTART[$s]=1; done
        fi
    done

    uwsgi_ini "$CINDER_PORT" "module = cinder.wsgi.api:application" <<EOT \
        | write_conf "$ETC/cinder/uwsgi.ini" cinder-api
pyargv = --config-file $ETC/cinder/cinder.conf
EOT
}

cinder_manage() {
    setpriv --reuid="$CINDER_USER" --regid="$CINDER_USER" --init-groups -- \
        "$VENV/bin/cinder-manage" --config-file "$ETC/cinder/cinder.conf" "$@" \
        >> "$LOG/cinder-manage.log" 2>&1 \
        || { tail -n 30 "$LOG/cinder-manage.log"; die "cinder-manage $* failed"; }
}

# start_cinder_node NAME: cinder-volume-N with its own configuration file
# after cinder.conf; any other service as itself.
start_cinder_node() {
    case $1 in
        cinder-volume-[0-9]*)
            start_cinder_svc "$1" cinder-volume --config-file "$(node_conf "${1##*-}")" ;;
        cinder-volume)
            if [ "$NODES" -ge 2 ]; then
                start_cinder_svc "$1" cinder-volume --config-file "$(node_conf 1)"
            else
                start_cinder_svc "$1"
            fi ;;
        *) start_cinder_svc "$1" ;;
    esac
}

# start_cinder_svc NAME [BINARY [ARGS...]]: the one way a Cinder service
# is started, by up and by restart (BINARY defaults to NAME; ARGS follow
# --config-file cinder.conf, e.g. a second --config-file).
start_cinder_svc() {
    local name=$1 bin=${2:-$1}
    shift
    if [ $# -gt 0 ]; then shift; fi
    start_bg "$name" "$CINDER_USER" "$VENV/bin/$bin" --config-file "$ETC/cinder/cinder.conf" "$@"
}

# down: the processes, then this stack's sudoers rule (up writes it again).
cinder_stop() {
    stop_piece cinder
    rm -f "$SUDOERS_STACK"
}

# A node the stack no longer has (up --nodes 1 after --nodes 2): stopped.
cinder_drop_old_nodes() {
    local n
    for (( n=NODES+1; n<=OLD_NODES; n++ )); do
        MARKER[cinder-volume-$n]=cinder-volume-$n.conf
        stop_svc "cinder-volume-$n"
    done
}

cinder_drivers_note() { echo "volume_driver = ${CINDER_DRIVERS[*]}"; }

cinder_start() {
    aio_setup identity --cinder-password "$CINDER_PASSWORD" \
        --volume-url "$CINDER_URL/v3/%(project_id)s"
    local s need_sync=''
    cinder_drop_old_nodes
    for s in cinder-api cinder-scheduler "${CINDER_VOLUMES[@]}"; do
        if [ -z "$(running_pid "$s")" ] || [ -n "${RESTART[$s]:-}" ]; then
            need_sync=1
        fi
    done
    if [ -n "$need_sync" ]; then cinder_manage db sync; fi
    # Back to one node: the cluster and its service rows go (Cinder keeps
    # a service's cluster in its row, and schedules to the cluster while
    # it is there); node 1 registers again, without a cluster, at start.
    if [ "$NODES" -lt "$OLD_NODES" ]; then
        for s in "${CINDER_VOLUMES[@]}"; do stop_svc "$s"; done
        say "removing the cluster $CINDER_CLUSTER and its services from Cinder"
        local b
        for b in "${CINDER_BACKENDS[@]}"; do
            # Cinder 29's cluster.destroy raises AttributeError after it
            # removed the rows (seen: cluster list and service list clean
            # afterwards): its failure is reported, not fatal.
            ( cinder_manage cluster remove --recursive cinder-volume "$CINDER_CLUSTER@$b" ) \
                || say "cinder-manage cluster remove $CINDER_CLUSTER@$b reported an error (log/cinder-manage.log)"
        done
    fi
    # Stop the backend first: a scheduler that restarts while the old
    # cinder-volume still runs would list the old driver's pool.
    for s in "${CINDER_VOLUMES[@]}" cinder-scheduler cinder-api; do
        if [ -n "${RESTART[$s]:-}" ] && [ -n "$(running_pid "$s")" ]; then
            say "$s: configuration changed"
            stop_svc "$s"
        fi
    done
    if [ -z "$(running_pid cinder-api)" ]; then
        start_uwsgi cinder-api "$CINDER_USER" "$VENV" "$ETC/cinder/uwsgi.ini" "$CINDER_PORT"
    fi
    for s in cinder-scheduler "${CINDER_VOLUMES[@]}"; do
        if [ -z "$(running_pid "$s")" ]; then
            say "starting $s ($(cinder_drivers_note))"
            start_cinder_node "$s"
        fi
    done
}

# Every backend in service: its pool in the scheduler's list, its volume
# type (aio-setup.py volume).
cinder_wait_backends() {
    local b n
    for b in "${CINDER_BACKENDS[@]}"; do
        for (( n=1; n<=NODES; n++ )); do
            aio_setup volume --backend "$b" --host "$(node_host "$n")" --wait 120 \
                ${CINDER_CLUSTER_ON:+--cluster "$CINDER_CLUSTER"}
        done
    done
}

cinder_ready() {
    wait_for "cinder-api on port $CINDER_PORT" 60 http_ok "$CINDER_URL/"
    cinder_wait_backends
    UP_NOTE=$(cinder_drivers_note)
}

cinder_report() {
    keystone_answers || return 0
    source_openrc
    openstack volume service list
}

# Lines of the log written since line $2 hold "$3".
log_since_has() { tail -n "+$(( $2 + 1 ))" "$LOG/$1.log" | grep -qF -- "$3"; }

cinder_restart() {
    local s=$1 lines
    [ -f "$ETC/cinder/cinder.conf" ] || die "no stack in $AIO (tools/aio up)"
    stop_svc "$s"
    lines=$(wc -l < "$LOG/$s.log")
    say "starting $s ($(cinder_drivers_note))"
    start_cinder_node "$s"
    if [ "$s" != cinder-scheduler ]; then
        # init_host: Cinder's cleanup of resources left creating/deleting,
        # the driver's do_setup, then the RPC server.
        wait_for "$s driver initialization" 180 log_since_has "$s" "$lines" \
            'Driver post RPC initialization completed successfully'
    fi
    cinder_wait_backends
    say "$s restarted (pid $(running_pid "$s"))"
}
