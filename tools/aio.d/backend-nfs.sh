# shellcheck shell=bash
# The Cinder backend "nfs": Cinder's stock NfsDriver with its snapshots on
# (nfs_snapshot_support: qcow2 overlays on the active volume, deletes that
# merge, Cinder's generic revert) and raw volume files, on its own share
# $HOST:/srv/stock-nfs-export, a bind mount of $AIO/export-nfs (DESIGN.md
# section 3).  What an operator would otherwise run: the benchmarks
# compare this driver with it (tools/bench-stock), and a backup of an
# incsnap volume restores into one of its raw volumes.  Volume type "nfs";
# the default type stays the first backend's (incsnap).
# AIO_STOCK_NFS=0 leaves it out of the stack; so does a cluster (up
# --nodes 2): Cinder refuses a clustered service whose driver does not
# support active-active, and the stock NfsDriver does not.
aio_piece backend-nfs

NFS_BACKEND=nfs
NFS_SHARE_DIRS=("$AIO/export-nfs")
NFS_SHARES=("$HOST:/srv/stock-nfs-export")
NFS_ENABLED=''
if [ "${AIO_STOCK_NFS:-1}" != 0 ] && [ "$NODES" = 1 ]; then
    NFS_ENABLED=1
    CINDER_BACKENDS+=("$NFS_BACKEND")
    CINDER_DRIVERS+=("$STOCK_DRIVER")
    CINDER_CONF_HOOKS+=(backend_nfs_conf)
fi

backend_nfs_conf() {
    nfs_backend_conf "$NFS_BACKEND" "$STOCK_DRIVER" "$ETC/cinder/nfs_shares_stock" false
}

backend_nfs_configure() {
    [ -n "$NFS_ENABLED" ] || return 0
    shares_prepare NFS_SHARES NFS_SHARE_DIRS "$ETC/cinder/nfs_shares_stock"
}
backend_nfs_start() {
    [ -n "$NFS_ENABLED" ] || return 0
    shares_mount NFS_SHARES NFS_SHARE_DIRS
}
# (also when left out: it may have been in the stack before)
backend_nfs_stop() { shares_unmount NFS_SHARES; }
backend_nfs_status() {
    [ -n "$NFS_ENABLED" ] || return 0
    shares_status NFS_SHARES NFS_SHARE_DIRS
}
