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
# AIO_DELTA_MAX: its snapshot_delta_max (default 3, the e2e tests' chains
# as CloudStack's test run; tools/bench-stock wants 16).
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
DEBS+=(nfs-common util-linux libnbd-bin)  # nbdinfo: backup extents

BACKEND=incsnap
MNT_BASE=$AIO/mnt             # nfs_mount_point_base (node 1; node N: mnt-N)
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
    nfs_backend_conf "$BACKEND" "$VOLUME_DRIVER" "$ETC/cinder/nfs_shares" true
    cat <<EOT
kvm_incremental_snapshot = true
snapshot_delta_max = ${AIO_DELTA_MAX:-3}
incsnap_libvirt_uri = $LIBVIRT_URI
EOT
}

backend_incsnap_configure() {
    shares_prepare INCSNAP_SHARES INCSNAP_SHARE_DIRS "$ETC/cinder/nfs_shares"
    backend_incsnap_drop_old_nodes
}

# Every node mounts the shares (its own mount points, lib.sh).
backend_incsnap_start() { shares_mount INCSNAP_SHARES INCSNAP_SHARE_DIRS "$NODES"; }
backend_incsnap_stop() { shares_unmount INCSNAP_SHARES 1 "$NODES"; }
backend_incsnap_status() { shares_status INCSNAP_SHARES INCSNAP_SHARE_DIRS "$NODES"; }

# The mounts of nodes the stack no longer has (up --nodes 1 after 2): by
# then their cinder-volume is gone (cinder starts after this piece, but
# a node's mounts are only used by its own service: stop it first).
backend_incsnap_drop_old_nodes() {
    local n
    for (( n=NODES+1; n<=OLD_NODES; n++ )); do
        MARKER[cinder-volume-$n]=cinder-volume-$n.conf
        stop_svc "cinder-volume-$n"
        shares_unmount INCSNAP_SHARES "$n"
    done
}
