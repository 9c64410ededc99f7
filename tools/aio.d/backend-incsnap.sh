# shellcheck shell=bash
# The Cinder backend "incsnap": this project's driver on a share
# $HOST:/srv/incsnap-export, a bind mount of $AIO/export standing in for
# the NFS mount (DESIGN.md section 3).  Listed before cinder: its share is
# mounted before cinder-volume starts, and unmounted after it stopped.
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
EXPORT=$AIO/export            # the "NFS server's" exported folder
MNT_BASE=$AIO/mnt             # nfs_mount_point_base
SHARE=$HOST:/srv/incsnap-export
CINDER_BACKENDS+=("$BACKEND")
CINDER_DRIVERS+=("$VOLUME_DRIVER")
CINDER_CONF_HOOKS+=(backend_incsnap_conf)

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
    mkdir -p "$EXPORT" "$MNT_BASE" "$ETC/cinder"
    # The export is written by cinder (its own files) and by root through
    # rootwrap (qemu-img): owned by cinder, like an NFS export squashed to it.
    chown "$CINDER_USER:$CINDER_USER" "$EXPORT" "$MNT_BASE"
    chmod 0775 "$EXPORT"
    echo "$SHARE" | write_conf "$ETC/cinder/nfs_shares" cinder-volume
}

# The bind mount that stands in for the NFS mount: os-brick's RemoteFsClient
# skips mounting a share whose mount point (<base>/<md5 of the share>) is
# already in /proc/mounts (os_brick/remotefs/remotefs.py, mount()).
mount_point() {
    echo "$MNT_BASE/$(printf '%s' "$SHARE" | md5sum | cut -d' ' -f1)"
}

is_mounted() { awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/mounts; }

backend_incsnap_start() {
    local mp
    mp=$(mount_point)
    if ! is_mounted "$mp"; then
        install -d -o "$CINDER_USER" -g "$CINDER_USER" "$mp"
        mount --bind "$EXPORT" "$mp"
        say "bind-mounted $EXPORT on $mp (stands in for NFS $SHARE)"
    fi
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
    local mp
    mp=$(mount_point)
    is_mounted "$mp" || return 0
    if umount "$mp"; then
        say "unmounted $mp"
    else
        say "ERROR: $mp stays mounted: in use by $(holders_of "$mp" | paste -sd, -)"
        return 1
    fi
}

backend_incsnap_status() {
    local mp
    mp=$(mount_point)
    if is_mounted "$mp"; then
        status_line bind-mount - "up ($EXPORT on $mp)"
    else
        status_line bind-mount - down
        return 1
    fi
}
