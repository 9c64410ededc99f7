# shellcheck shell=bash
# What every piece of the all-in-one stack uses: messages, process
# bookkeeping (PID files, start, stop), waiting, configuration writing,
# the piece registry and the machine-wide lock.  Sourced by tools/aio
# before the pieces; it starts nothing by itself.
#
# A piece is one file tools/aio.d/<piece>.sh, listed in tools/aio.d/pieces
# (start order; `down` goes in reverse).  Sourcing it only declares: it
# calls `aio_piece NAME` first, then may
#   aio_proc NAME [MARKER]   a process of the stack: PID file run/NAME.pid,
#                            log log/NAME.log; MARKER is a word its command
#                            line contains (default NAME)
#   aio_shared_proc NAME CHECK...
#                            a machine-wide daemon the piece makes sure of
#                            (shared by every stack, never stopped by down);
#                            CHECK succeeds while it runs
#   aio_needs PIECE...       pieces that must be ready before its start hook
#   aio_secret NAME...       passwords kept in $AIO/secrets (made once)
#   aio_export NAME VALUE    a line NAME=VALUE of $AIO/stack.env (addresses
#                            other tools read: tools/tempest, tests)
#   aio_restartable NAME...  processes `tools/aio restart NAME` accepts
#   aio_port PROC PORT       PROC listens on $HOST:PORT (checked free first)
#   DEBS+=(...)              Debian packages it needs
#   PIP_PKGS+=(...)          packages of the stack's venv (tools/aio.d/venv.sh)
#   VENV_PROCS+=(...)        its processes that run from the stack's venv
#                            (restarted when the venv is made anew)
# and define any of these hooks (a missing hook does nothing; the name is
# the piece's with '-' as '_'):
#   <p>_install      after the Debian packages (machine-wide things: hold
#                    the machine lock, see with_machine_lock)
#   <p>_configure    write its files with write_conf (marks restarts)
#   <p>_start        start what does not run, restart what RESTART marks
#   <p>_ready        wait until it serves (before a piece that needs it
#                    starts, and at the end of up)
#   <p>_stop         stop it (default: its processes in reverse, TERM)
#   <p>_status       extra lines after the process table; non-zero = down
#   <p>_report       shown at the end of up and of status
#   <p>_demo         shown at the end of demo (how to go on by hand)
#   <p>_restart NAME restart one of its aio_restartable processes

T0=$(date +%s%N)
# Messages carry the seconds since the script started.
say() {
    local ms=$(( ($(date +%s%N) - T0) / 1000000 ))
    printf '[aio %4d.%d] %s\n' $((ms / 1000)) $(( (ms % 1000) / 100 )) "$*"
}
die() { printf '[aio] ERROR: %s\n' "$*" >&2; exit 1; }

# --- the piece registry -----------------------------------------------------

PIECES=()            # in start order
PROCS=()             # every process of the stack, in start order
RESTARTABLE=()
SECRETS=()
EXPORTS=()
DEBS=()
PIP_PKGS=()
VENV_PROCS=()
declare -A PIECE_OF=() MARKER=() SHARED_CHECK=() NEEDS=()
CURRENT_PIECE=

aio_piece() { PIECES+=("$1"); CURRENT_PIECE=$1; NEEDS[$1]=''; }
aio_proc() {
    PROCS+=("$1"); PIECE_OF[$1]=$CURRENT_PIECE; MARKER[$1]=${2:-$1}
}
aio_shared_proc() {
    local name=$1; shift
    PROCS+=("$name"); PIECE_OF[$name]=$CURRENT_PIECE; SHARED_CHECK[$name]="$*"
}
aio_needs() { NEEDS[$CURRENT_PIECE]="${NEEDS[$CURRENT_PIECE]} $*"; }
aio_secret() { SECRETS+=("$@"); }
aio_export() { EXPORTS+=("$1=$2"); }
aio_restartable() { RESTARTABLE+=("$@"); }

is_shared() { [ -n "${SHARED_CHECK[$1]:-}" ]; }

# hook PIECE HOOK [ARGS]: run <piece>_<hook> when the piece defines it.
# Returns 0 when it does not.
hook() {
    local fn=${1//-/_}_$2
    shift 2
    if declare -F "$fn" >/dev/null; then "$fn" "$@"; fi
}
has_hook() { declare -F "${1//-/_}_$2" >/dev/null; }

# Processes of piece $1, in start order.
procs_of() {
    local p
    for p in "${PROCS[@]}"; do
        [ "${PIECE_OF[$p]}" = "$1" ] && echo "$p"
    done
    return 0
}

# ready PIECE: its ready hook, once per run.
declare -A READY=()
ready() {
    [ -n "${READY[$1]:-}" ] && return 0
    hook "$1" ready
    READY[$1]=1
}

# --- process bookkeeping ------------------------------------------------------

pidfile() { echo "$RUN/$1.pid"; }

# The PID of our running process $1, or nothing.  A PID file whose process
# has another command line (no MARKER in it) is stale: the PID was reused.
running_pid() {
    local f pid
    f=$(pidfile "$1")
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
    if tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "${MARKER[$1]:-$1}"; then
        echo "$pid"
    fi
}

# start_bg NAME USER CMD...: run CMD as USER in its own session, stdout and
# stderr appended to $LOG/NAME.log, its PID in $RUN/NAME.pid.  setsid and
# setpriv both exec, so $! is the service's own PID.
start_bg() {
    local name=$1 user=$2; shift 2
    local as=()
    if [ "$user" != root ]; then
        as=(setpriv "--reuid=$user" "--regid=$user" --init-groups --)
    fi
    printf '\n===== %s start %s =====\n' "$(date -Is)" "$name" >> "$LOG/$name.log"
    ( cd "$AIO" && exec setsid "${as[@]}" "$@" >> "$LOG/$name.log" 2>&1 < /dev/null ) &
    echo $! > "$(pidfile "$name")"
    sleep 0.2
    [ -n "$(running_pid "$name")" ] || {
        tail -n 30 "$LOG/$name.log" >&2
        die "$name exited at once (log: $LOG/$name.log)"
    }
}

# stop_svc NAME [SIGNAL]: signal our process, wait for it to go, then KILL.
stop_svc() {
    local name=$1 sig=${2:-TERM} pid i
    pid=$(running_pid "$name")
    if [ -z "$pid" ]; then
        rm -f "$(pidfile "$name")"
        return 0
    fi
    say "stopping $name (pid $pid)"
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        [ -d "/proc/$pid" ] || break
        sleep 0.2
    done
    if [ -d "/proc/$pid" ]; then
        say "$name did not stop in 20 s: KILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$(pidfile "$name")"
}

# The default stop hook: the piece's own processes in reverse order.
# Machine-wide daemons are left running (other stacks use them); a PID
# file of one, left by an older tools/aio that started it, is dropped.
stop_piece() {
    local procs i
    mapfile -t procs < <(procs_of "$1")
    for (( i=${#procs[@]}-1; i>=0; i-- )); do
        if is_shared "${procs[$i]}"; then
            rm -f "$(pidfile "${procs[$i]}")"
        else
            stop_svc "${procs[$i]}" TERM
        fi
    done
}

# needs_start NAME: NAME does not run, or RESTART marks it (then it is
# stopped here).  The usual shape of a start hook:
#     if needs_start x; then say "starting x"; start_bg x ...; fi
needs_start() {
    if [ -n "${RESTART[$1]:-}" ] && [ -n "$(running_pid "$1")" ]; then
        say "$1: configuration changed"
        stop_svc "$1"
    fi
    [ -z "$(running_pid "$1")" ]
}

# wait_for DESCRIPTION SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
    local what=$1 secs=$2 t0; shift 2
    t0=$(date +%s)
    until "$@" >/dev/null 2>&1; do
        if [ $(( $(date +%s) - t0 )) -ge "$secs" ]; then
            die "timed out after ${secs}s waiting for $what"
        fi
        sleep 0.5
    done
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
http_ok() { curl -fsS -o /dev/null --max-time 5 "$1"; }

# port_free WHAT HOST PORT: die when something else listens there already
# (called before starting a process that binds it).  A wildcard listener
# on the port takes it too.
port_free() {
    local what=$1 host=$2 port=$3 who
    port_open "$host" "$port" || return 0
    who=$(ss -Hltnp "( sport = :$port )" 2>/dev/null \
          | awk -v a="$host:$port" -v p=":$port" \
                '$4 == a || $4 == "0.0.0.0" p || $4 == "*" p || $4 == "[::]" p {print $4, $6}' \
          | head -n 1)
    die "$what: $host:$port is taken by another process (${who:-unknown})." \
        "Another stack on AIO_HOST=$host? Give this one another AIO_HOST."
}

# aio_port PROC PORT: PROC listens on $HOST:PORT.  `up` checks, before it
# does anything, that no other process has such a port while PROC is not
# running (another stack on the same address, most likely).
PORTS=()
aio_port() { PORTS+=("$1:$2"); }
ports_free() {
    local pp
    for pp in "${PORTS[@]}"; do
        [ -n "$(running_pid "${pp%%:*}")" ] || port_free "${pp%%:*}" "$HOST" "${pp##*:}"
    done
}

# write_conf FILE PROC...: write stdin to FILE when it differs; processes
# listed are then marked for restart.  Returns 0 always.
declare -A RESTART=()
write_conf() {
    local file=$1 tmp; shift
    tmp=$(mktemp "$file.XXXXXX")
    cat > "$tmp"
    if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
    else
        chmod 0644 "$tmp"
        mv "$tmp" "$file"
        local s
        for s in "$@"; do RESTART[$s]=1; done
    fi
}

# uwsgi_ini PORT APP [VENV [THREADS]] [extra lines on stdin]: the uWSGI
# configuration of a WSGI service on $HOST:PORT.  APP is its application
# line ("module = pkg.wsgi:application" or "wsgi-file = /path/wsgi.py");
# VENV defaults to the stack's venv, THREADS (per process) to 1.
uwsgi_ini() {
    local port=$1 app=$2 venv=${3:-$VENV} threads=${4:-1} extra
    extra=$(cat)
    cat <<EOF
[uwsgi]
http-socket = $HOST:$port
$app
virtualenv = $venv
master = true
processes = 2
threads = $threads
lazy-apps = true
enable-threads = true
die-on-term = true
need-app = true
buffer-size = 65535
add-header = Connection: close
$extra
EOF
}

# start_uwsgi NAME USER VENV INI PORT: the one way a uWSGI service starts
# (by up and by restart), once its port is free.
start_uwsgi() {
    port_free "$1" "$HOST" "$5"
    say "starting $1 (uWSGI) on $HOST:$5"
    start_bg "$1" "$2" "$3/bin/uwsgi" --ini "$4"
}

# --- machine-wide things ------------------------------------------------------

# Several stacks (and several checkouts) share the Debian packages, the
# system user, the sudoers files and the machine-wide daemons: what
# installs or starts them runs under one lock.  Daemons started under it
# must not inherit the lock's descriptor: run them with 9>&-.
MACHINE_LOCK=/run/lock/incsnap-aio.lock
with_machine_lock() {
    (
        flock 9
        "$@"
    ) 9>"$MACHINE_LOCK"
}

ensure_debs() {
    local missing=() p
    for p in "${DEBS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        > "$LOG/apt.log" 2>&1 || { tail -n 30 "$LOG/apt.log"; die "apt-get failed"; }
}

# Passwords are made once and kept in $AIO/secrets; a piece added later
# gets its own appended.
ensure_secrets() {
    local f=$AIO/secrets k
    ( umask 077
      touch "$f"
      for k in "${SECRETS[@]}"; do
          grep -q "^$k=" "$f" || \
              echo "$k=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')" >> "$f"
      done )
    # shellcheck disable=SC1090
    . "$f"
}

# $AIO/stack.env: the stack's address and endpoints, for the tools and
# tests that talk to it (and the record of the host the folder is for).
write_stack_env() {
    { echo "# written by tools/aio: the stack in $AIO"
      printf '%s\n' "${EXPORTS[@]}"; } | write_conf "$AIO/stack.env"
}

# A line of the status table.
status_line() { printf '%-18s %-8s %s\n' "$1" "$2" "$3"; }

# --- Shares: bind mounts standing in for NFS mounts (DESIGN.md section 3)
# A backend piece names two arrays: its shares (host:/path, as in its
# nfs_shares file) and the folders that are their "exports"; all backends
# mount under one nfs_mount_point_base, $MNT_BASE.  Node N >= 2 of a
# cluster (tools/aio up --nodes N) mounts the same shares under a base of
# its own, as a second host would: $MNT_BASE-N.
node_mnt_base() {
    if [ "${1:-1}" = 1 ]; then echo "$MNT_BASE"; else echo "$MNT_BASE-$1"; fi
}

# The mount point of share $1 on node $2 (default 1): os-brick's
# RemoteFsClient skips mounting a share whose mount point (<base>/<md5 of
# the share>) is already in /proc/mounts (os_brick/remotefs/remotefs.py,
# mount()).
mount_point() {
    echo "$(node_mnt_base "${2:-1}")/$(printf '%s' "$1" | md5sum | cut -d' ' -f1)"
}

is_mounted() { awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/mounts; }

# Processes with their working folder or a file under folder $1.
holders_of() {
    local p l t
    for p in /proc/[0-9]*; do
        for l in "$p/cwd" "$p/root" "$p"/fd/*; do
            t=$(readlink "$l" 2>/dev/null) || continue
            case $t in "$1"|"$1"/*)
                echo "${p#/proc/} ($(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | cut -c1-60))"
                break ;;
            esac
        done
    done
}

# shares_mount SHARES_ARRAY DIRS_ARRAY [NODES]: bind-mount each export
# folder on its share's mount point of nodes 1..NODES (default 1), owned
# by cinder like an export squashed to it.
shares_mount() {
    local -n _shares=$1 _dirs=$2
    local i mp n
    for (( n=1; n<=${3:-1}; n++ )); do
        install -d -o "$CINDER_USER" -g "$CINDER_USER" "$(node_mnt_base "$n")"
        for i in "${!_shares[@]}"; do
            mp=$(mount_point "${_shares[i]}" "$n")
            if ! is_mounted "$mp"; then
                install -d -o "$CINDER_USER" -g "$CINDER_USER" "$mp"
                mount --bind "${_dirs[i]}" "$mp"
                say "bind-mounted ${_dirs[i]} on $mp (stands in for NFS ${_shares[i]}, node $n)"
            fi
        done
    done
}

# shares_unmount SHARES_ARRAY [FIRST [LAST]]: the mounts of nodes
# FIRST..LAST (default 1..FIRST); fails naming the processes that hold one.
shares_unmount() {
    local -n _shares=$1
    local first=${2:-1} share mp rc=0 n
    for (( n=first; n<=${3:-$first}; n++ )); do
        for share in "${_shares[@]}"; do
            mp=$(mount_point "$share" "$n")
            is_mounted "$mp" || continue
            if umount "$mp"; then
                say "unmounted $mp"
            else
                say "ERROR: $mp stays mounted: in use by $(holders_of "$mp" | paste -sd, -)"
                rc=1
            fi
        done
    done
    return $rc
}

# shares_status SHARES_ARRAY DIRS_ARRAY [NODES]
shares_status() {
    local -n _shares=$1 _dirs=$2
    local i mp n rc=0
    for (( n=1; n<=${3:-1}; n++ )); do
        for i in "${!_shares[@]}"; do
            mp=$(mount_point "${_shares[i]}" "$n")
            if is_mounted "$mp"; then
                status_line bind-mount - "up (${_dirs[i]} on $mp)"
            else
                status_line bind-mount - "down (${_dirs[i]} on $mp)"
                rc=1
            fi
        done
    done
    return $rc
}

# shares_prepare SHARES_ARRAY DIRS_ARRAY NFS_SHARES_FILE: the export
# folders (written by cinder, and by root through rootwrap) and the
# backend's nfs_shares_config file.
shares_prepare() {
    local -n _shares=$1 _dirs=$2
    mkdir -p "${_dirs[@]}" "$MNT_BASE" "$(dirname "$3")"
    chown "$CINDER_USER:$CINDER_USER" "${_dirs[@]}" "$MNT_BASE"
    chmod 0775 "${_dirs[@]}"
    printf '%s\n' "${_shares[@]}" | write_conf "$3" cinder-volume
}

# nfs_backend_conf NAME DRIVER SHARES_FILE QCOW2: the cinder.conf section
# of an NFS-style backend on bind-mounted shares (snapshots on; qcow2 or
# raw volume files); the caller may append options of its own.
nfs_backend_conf() {
    cat <<EOT

[$1]
volume_driver = $2
volume_backend_name = $1
nfs_shares_config = $3
nfs_mount_point_base = $MNT_BASE
nfs_snapshot_support = true
nfs_qcow2_volumes = $4
nfs_sparsed_volumes = true
nas_secure_file_operations = false
nas_secure_file_permissions = false
EOT
}
