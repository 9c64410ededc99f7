# shellcheck shell=bash
# The Python environment of the OpenStack services: $AIO/venv.
#
# What is heavy (Keystone, Cinder, the clients, uWSGI built from source,
# the project's requirements: ~2 min of pip) lives in a shared venv,
# $AIO_VENV_CACHE/venv-<key>, made once per key and never changed after;
# the key is a hash of the Python, PIP_PKGS and the project's
# requirements.txt, so checkouts with the same requirements share it and
# a changed requirement gets a venv of its own.  $AIO/venv is a small venv
# of the stack's own on top of it: a .pth file puts the shared venv's
# site-packages on its path, its bin/ has the shared venv's console
# scripts with the stack's Python, and the project is installed into it
# (pip install -e), so stacks of different checkouts never see each
# other's driver.  Old shared venvs are not removed: when no stack runs,
# `rm -rf $AIO_VENV_CACHE` is safe.
aio_piece venv

DEBS+=(python3-venv python3-dev gcc pkg-config)
PIP_PKGS+=(python-openstackclient)
# The services run as user cinder, who must be able to read the venv's
# Python: a pyenv build under /root (mode 700) does not do, Debian's does.
STACK_PYTHON=${AIO_PYTHON:-/usr/bin/python3}
VENV_CACHE=${AIO_VENV_CACHE:-/var/cache/incsnap-aio}
PROJECT_REQUIRED=${PROJECT_REQUIRED:-}   # set by a piece that needs the project

venv_base_key() {
    { readlink -f "$STACK_PYTHON"
      "$STACK_PYTHON" -c 'import sys; print(sys.version)'
      printf '%s\n' "${PIP_PKGS[@]}" uwsgi
      cat "$PROJECT/requirements.txt" 2>/dev/null || true
    } | sha1sum | cut -c1-16
}

# pip_venv BASE LOGFILE WHAT PKG...: a new venv BASE with the packages
# and uWSGI (built from source against this venv's Python; no cached
# wheel, which may have been built against another 3.11).
pip_venv() {
    local base=$1 log=$2 what=$3
    shift 3
    rm -rf "$base"
    say "creating the shared venv $base ($STACK_PYTHON): $what (log: $log)"
    "$STACK_PYTHON" -m venv "$base"
    "$base/bin/pip" install -q --upgrade pip > "$log" 2>&1
    "$base/bin/pip" install "$@" >> "$log" 2>&1 \
        || pip_failed "$log" "pip install of $what failed"
    "$base/bin/pip" install --no-cache-dir uwsgi >> "$log" 2>&1 \
        || pip_failed "$log" "pip install uwsgi ($what) failed"
}

pip_failed() {
    grep -v '^WARNING: Location' "$1" | tail -n 30
    die "$2"
}

# The shared venv, made under its own lock: a second stack waits for the
# first one's pip instead of racing it.  A venv without its .aio-complete
# stamp was interrupted and is made again.
build_base_venv() {
    local base=$1
    [ -f "$base/.aio-complete" ] && return 0
    pip_venv "$base" "$LOG/pip.log" "Keystone, Cinder, clients" "${PIP_PKGS[@]}"
    # The project's own requirements (libvirt-python ...): when they do
    # not install, the project's install into the stack's venv says so.
    if [ -f "$PROJECT/requirements.txt" ]; then
        "$base/bin/pip" install -r "$PROJECT/requirements.txt" >> "$LOG/pip.log" 2>&1 \
            || say "WARNING: the project's requirements do not install into $base (log: $LOG/pip.log)"
    fi
    { echo "python: $(readlink -f "$STACK_PYTHON")"
      printf 'pip: %s\n' "${PIP_PKGS[@]}" uwsgi
      echo "requirements of: $PROJECT"; } > "$base/.aio-complete"
}

# $VENV on top of the shared venv $1.
make_stack_venv() {
    local base=$1 site base_site f name
    if [ -e "$VENV" ]; then
        say "$VENV: made anew on $base"
        rm -rf "$VENV"
        local p
        for p in "${VENV_PROCS[@]}"; do RESTART[$p]=1; done
    fi
    "$STACK_PYTHON" -m venv --without-pip "$VENV"
    site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    base_site=$("$base/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "$base_site" > "$site/incsnap-aio-shared-venv.pth"
    # Console scripts (cinder-volume, keystone-manage, openstack, pip ...)
    # run with this venv's Python; uWSGI finds the venv by its ini.
    for f in "$base"/bin/*; do
        name=${f##*/}
        [ -f "$f" ] || continue
        case $name in python*|activate*|Activate*) continue ;; esac
        if head -n 1 "$f" | grep -qE "^#!$base/bin/python[0-9.]*\$"; then
            sed "1s|^#!$base/bin/python[0-9.]*\$|#!$VENV/bin/python|" "$f" > "$VENV/bin/$name"
            chmod 0755 "$VENV/bin/$name"
        elif [ "$name" = uwsgi ]; then
            cp "$f" "$VENV/bin/$name"
        fi
    done
    echo "$base" > "$VENV/.aio-pkgs"
}

venv_install() {
    local base want_proj
    base=$VENV_CACHE/venv-$(venv_base_key)
    mkdir -p "$VENV_CACHE"
    ( flock 8; build_base_venv "$base" ) 8>"$base.lock"
    # Where the OpenStack packages' data files are (etc/cinder/...).
    PKG_VENV=$base
    if [ -x "$VENV/bin/python" ] && ! grep -qx "executable = $(readlink -f "$STACK_PYTHON")" "$VENV/pyvenv.cfg"; then
        say "$VENV was made with another Python: making it anew"
        rm -f "$VENV/.aio-pkgs"
    fi
    if [ "$(cat "$VENV/.aio-pkgs" 2>/dev/null)" != "$base" ]; then
        make_stack_venv "$base"
    fi
    want_proj=$( { echo "$PROJECT"; cat "$PROJECT/setup.cfg" "$PROJECT/requirements.txt";
                   if [ -f "$PROJECT/README.md" ]; then echo readme; fi; } \
                 | sha1sum | cut -d' ' -f1)
    if [ "$(cat "$VENV/.aio-project" 2>/dev/null)" != "$want_proj" ]; then
        say "installing the project (pip install -e $PROJECT)"
        # One at a time per checkout: pip -e writes the checkout's egg-info.
        if ! flock "/run/lock/incsnap-aio-project-$(printf '%s' "$PROJECT" | md5sum | cut -c1-12).lock" \
                "$VENV/bin/pip" install -e "$PROJECT" >> "$LOG/pip.log" 2>&1; then
            grep -v '^WARNING: Location' "$LOG/pip.log" | grep -E 'Error|error' | tail -n 5
            if [ -n "$PROJECT_REQUIRED" ]; then
                die "the project does not install (log: $LOG/pip.log), and $PROJECT_REQUIRED"
            fi
            say "WARNING: the project does not install (log: $LOG/pip.log); going on without it"
            return 0   # no stamp: try again next time
        fi
        "$VENV/bin/pip" check >> "$LOG/pip.log" 2>&1 \
            || say "WARNING: pip check reports conflicts (see $LOG/pip.log)"
        echo "$want_proj" > "$VENV/.aio-project"
    fi
}

# PKG_VENV for the verbs that do not run install (restart, status).
PKG_VENV=$(cat "$VENV/.aio-pkgs" 2>/dev/null || echo "$VENV")
