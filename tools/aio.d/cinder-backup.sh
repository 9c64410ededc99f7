# shellcheck shell=bash
# cinder-backup, on the cinder-volume host (backup_use_same_host: the
# incsnap driver hands the backup service a raw view of a volume or
# snapshot as a local file, README "Backups"), with Cinder's NFS backup
# driver (the project's differential subclass of it by default) on the
# share $HOST:/srv/backup-export: a bind mount of
# $AIO/backup-export at the mount point os-brick would mount it on
# ($MNT_BASE/<md5 of the share>, as the volume shares), so the NFS backup
# driver's own mount code runs and finds it mounted (DESIGN.md section 3).
# backup_posix_path names the same folder, so that a posix-based backup
# driver (AIO_BACKUP_DRIVER) writes to the same share.
# AIO_BACKUP=0 leaves cinder-backup out of the stack.
aio_piece cinder-backup

# The project's differential backup driver (Cinder's NFS backup driver
# that ships only the manifest's dirty extents, README "Backups that read
# only what changed") when the checkout has it, else Cinder's own.
INCSNAP_BACKUP_DRIVER=incsnap_driver.backup.nfs.IncsnapNFSBackupDriver
STOCK_BACKUP_DRIVER=cinder.backup.drivers.nfs.NFSBackupDriver
BACKUP_DRIVER=${AIO_BACKUP_DRIVER:-$( [ -f "$PROJECT/incsnap_driver/backup/nfs.py" ] && echo "$INCSNAP_BACKUP_DRIVER" || echo "$STOCK_BACKUP_DRIVER")}
if [ "${AIO_BACKUP:-1}" != 0 ]; then
    aio_proc cinder-backup
    aio_needs cinder
    aio_restartable cinder-backup
    VENV_PROCS+=(cinder-backup)
    BACKUP_SHARES=("$HOST:/srv/backup-export")
    BACKUP_SHARE_DIRS=("$AIO/backup-export")
    CINDER_CONF_HOOKS+=(cinder_backup_conf)
    aio_export BACKUP_EXPORT "$AIO/backup-export"
else
    BACKUP_SHARES=()
    BACKUP_SHARE_DIRS=()
fi

cinder_backup_conf() {
    cat <<EOT

[DEFAULT]
backup_driver = $BACKUP_DRIVER
backup_use_same_host = true
backup_share = ${BACKUP_SHARES[0]}
backup_mount_point_base = $MNT_BASE
backup_posix_path = $(mount_point "${BACKUP_SHARES[0]}")
EOT
}

cinder_backup_configure() {
    [ ${#BACKUP_SHARES[@]} -gt 0 ] || return 0
    mkdir -p "${BACKUP_SHARE_DIRS[@]}" "$MNT_BASE"
    chown "$CINDER_USER:$CINDER_USER" "${BACKUP_SHARE_DIRS[@]}"
    chmod 0775 "${BACKUP_SHARE_DIRS[@]}"
    touch "$LOG/cinder-backup.log"; chown "$CINDER_USER" "$LOG/cinder-backup.log"
    # cinder.conf is written by cinder's configure hook, before this one:
    # a change there marked cinder-volume; cinder-backup reads it too.
    if [ -n "${RESTART[cinder-volume]:-}" ]; then RESTART[cinder-backup]=1; fi
}

cinder_backup_start() {
    [ ${#BACKUP_SHARES[@]} -gt 0 ] || return 0
    shares_mount BACKUP_SHARES BACKUP_SHARE_DIRS
    if needs_start cinder-backup; then
        say "starting cinder-backup ($BACKUP_DRIVER)"
        start_cinder_svc cinder-backup
    fi
}

cinder_backup_backend_up() {
    source_openrc
    openstack volume service list --service cinder-backup -f value -c State \
        | grep -qx up
}

cinder_backup_ready() {
    [ ${#BACKUP_SHARES[@]} -gt 0 ] || return 0
    wait_for "cinder-backup up" 120 cinder_backup_backend_up
}

cinder_backup_stop() {
    stop_piece cinder-backup
    [ ${#BACKUP_SHARES[@]} -gt 0 ] || return 0
    shares_unmount BACKUP_SHARES
}

cinder_backup_status() {
    [ ${#BACKUP_SHARES[@]} -gt 0 ] || return 0
    shares_status BACKUP_SHARES BACKUP_SHARE_DIRS
}

cinder_backup_restart() {
    stop_svc "$1"
    say "starting $1 ($BACKUP_DRIVER)"
    start_cinder_svc "$1"
    cinder_backup_ready
    say "$1 restarted (pid $(running_pid "$1"))"
}
