# shellcheck shell=bash
# The Cinder backend "incsnap": this project's driver on two shares,
# $HOST:/srv/incsnap-export and $HOST:/srv/incsnap-export-2 (each its own
# pool), bind mounts of $AIO/export and $AIO/export-2 standing in for the
# NFS mounts (DESIGN.md section 3).
# Listed before cinder: its shares are mounted before cinder-volume
# starts, and unmounted after it stopped.
#
# A backend piece appends its name to CINDER_BACKENDS (enabled_backends;
# the first is the default volume type) and a function printing its
# cinder.conf section to CINDER_CONF_HOOKS (see cinder.sh).
aio_piece backend-incsnap

INCSNAP_DRIVER=incsnap_driver.driver.IncrementalSnapshotNfsDriver
STOCK_DRIVER=cinder.volume.drivers.nfs.NfsDriver
# ---------------------------------------------------------------------------
# The one line that picks the driver: the project's own when the checkout
# has it, else Cinder's stock NFS driver (same share, same options).
VOLUME_DRIVER=${AIO_VOLUME_DRIVER:-$( [ -f "$PROJECT/incsnap_driver/driver.py" ] && echo "$INCSNAP_DRIVER" || echo "$STOCK_DRIVER")}
# ---------------------------------------------------------------------------
if [ "$VOLUME_DRIVER" = "$INCSNAP_DRIVER" ]; then
    PROJECT_REQUIRED="the incsnap driver is selected"
fi
DEBS+=(nfs-common util-linux)

BACKEND=incsnap
MNT_BASE=$AIO/mnt             # nfs_mount_point_base (node 1)
# Node N >= 2 of a cluster mounts the same shares under a base of its own,
# as a second host would: $AIO/mnt-N (bind mounts of the same exports).
node_mnt_base() { if [ "$1" = 1 ]; then echo "$MNT_BASE"; else echo "$MNT_BASE-$1"; fi; }
# The "NFS server's" exported folders, and the shares they are.
INCSNAP_SHARE_DIRS=("$AIO/export" "$AIO/export-2")
INCSNAP_SHARES=("$HOST:/srv/incsnap-export" "$HOST:/srv/incsnap-export-2")
CINDER_BACKENDS+=("$BACKEND")
CINDER_DRIVERS+=("$VOLUME_DRIVER")
CINDER_CONF_HOOKS+=(backend_incsnap_conf)
CINDER_NODE_HOOKS+=(backend_incsnap_node_conf)

backend_incsnap_node_conf() {
    printf '\n[%s]\nnfs_mount_point_base = %s\n' "$BACKEND" "$(node_mnt_base "$1")"
}

backend_incsnap_conf() {
    # Options of the incsnap driver.  Cinder only reads options that some
    # code registered, so the stock driver ignores them (checked: no
    # warning, no error); they are written for both.
    cat <<EOT

[$BACKEND]
volume_driver = $VOLUME_DRIVER
volume_backend_name = $BACKEND
nfs_shares_config = $ETC/cinder/nfs_shares
nfs_mount_point_base = $MNT_BASE
nfs_snapshot_support = true
nfs_qcow2_volumes = true
nfs_sparsed_volumes = true
nas_secure_file_operations = false
nas_secure_file_permissions = false
kvm_incremental_snapshot = true
snapshot_delta_max = 3
incsnap_libvirt_uri = $LIBVIRT_URI
EOT
}

backend_incsnap_configure() {
    mkdir -p "${INCSNAP_SHARE_DIRS[@]}" "$MNT_BASE" "$ETC/cinder"
    # An export is written by cinder (its own files) and by root through
    # rootwrap (qemu-img): owned by cinder, like an NFS export squashed to it.
    chown "$CINDER_USER:$CINDER_USER" "${INCSNAP_SHARE_DIRS[@]}" "$MNT_BASE"
    backend_incsnap_drop_old_nodes
    chmod 0775 "${INCSNAP_SHARE_DIRS[@]}"
    printf '%s\n' "${INCSNAP_SHARES[@]}" | write_conf "$ETC/cinder/nfs_shares" cinder-volume
}

# The bind mount that stands in for the NFS mount of share $1: os-brick's
# RemoteFsClient skips mounting a share whose mount point (<base>/<md5 of
# the share>) is already in /proc/mounts (os_brick/remotefs/remotefs.py,
# mount()).
mount_point() {
    echo "$(node_mnt_base "${2:-1}")/$(printf '%s' "$1" | md5sum | cut -d' ' -f1)"
}

is_mounted() { awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/mounts; }

backend_incsnap_start() {
    local i mp n
    for (( n=1; n<=NODES; n++ )); do
        install -d -o "$CINDER_USER" -g "$CINDER_USER" "$(node_mnt_base "$n")"
        for i in "${!INCSNAP_SHARES[@]}"; do
            mp=$(mount_point "${INCSNAP_SHARES[i]}" "$n")
            if ! is_mounted "$mp"; then
                install -d -o "$CINDER_USER" -g "$CINDER_USER" "$mp"
                mount --bind "${INCSNAP_SHARE_DIRS[i]}" "$mp"
                say "bind-mounted ${INCSNAP_SHARE_DIRS[i]} on $mp (stands in for NFS ${INCSNAP_SHARES[i]}, node $n)"
            fi
        done
    done
}

# The mounts of nodes the stack no longer has (up --nodes 1 after 2): by
# then their cinder-volume is gone (cinder starts after this piece, but
# a node's mounts are only used by its own service: stop it first).
backend_incsnap_drop_old_nodes() {
    local n share mp
    for (( n=NODES+1; n<=OLD_NODES; n++ )); do
        MARKER[cinder-volume-$n]=cinder-volume-$n.conf
        stop_svc "cinder-volume-$n"
        for share in "${INCSNAP_SHARES[@]}"; do
            mp=$(mount_point "$share" "$n")
            if is_mounted "$mp"; then umount "$mp" && say "unmounted $mp"; fi
        done
    done
}

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

backend_incsnap_stop() {
    local share mp rc=0 n
    for (( n=1; n<=NODES; n++ )); do
    for share in "${INCSNAP_SHARES[@]}"; do
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

backend_incsnap_status() {
    local i mp rc=0 n
    for (( n=1; n<=NODES; n++ )); do
        for i in "${!INCSNAP_SHARES[@]}"; do
            mp=$(mount_point "${INCSNAP_SHARES[i]}" "$n")
            if is_mounted "$mp"; then
                status_line bind-mount - "up (${INCSNAP_SHARE_DIRS[i]} on $mp)"
            else
                status_line bind-mount - "down (${INCSNAP_SHARE_DIRS[i]} on $mp)"
                rc=1
            fi
        done
    done
    return $rc
}
