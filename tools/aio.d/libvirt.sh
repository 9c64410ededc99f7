# shellcheck shell=bash
# libvirt: the machine's libvirtd (qemu:///system) and a socket relay of
# the stack's own for user cinder.
#
# libvirtd and virtlogd are the machine's, shared by every stack and by
# the tests: started with tools/start-libvirtd when they do not run,
# never stopped by down, never reconfigured.
#
# cinder-volume runs as user cinder and must reach qemu:///system for
# snapshots of attached volumes.  libvirtd's default read-write socket
# authorizes non-root clients through polkit over D-Bus, which a machine
# without systemd does not run ("Unable to get system bus connection"), and
# libvirtd may be someone else's.  So, as a compute host gives the volume
# host remote access, the stack relays a socket only cinder can open
# ($RUN/libvirt-sock, mode 0600) to libvirtd's, and the driver's
# incsnap_libvirt_uri points at it.  No libvirtd setting is changed.
aio_piece libvirt
aio_shared_proc virtlogd pgrep -x -r R,S,D virtlogd
aio_shared_proc libvirtd pgrep -x -r R,S,D libvirtd
aio_proc libvirt-proxy socat
DEBS+=(qemu-utils qemu-system-x86 qemu-block-extra libvirt-daemon-system
       libvirt-clients libvirt-dev socat)

LIBVIRT_SOCK=/var/run/libvirt/libvirt-sock
PROXY_SOCK=$RUN/libvirt-sock
LIBVIRT_URI="qemu+unix:///system?socket=$PROXY_SOCK"
aio_export LIBVIRT_URI "$LIBVIRT_URI"

start_machine_libvirtd() {
    virsh -c qemu:///system version >/dev/null 2>&1 && return 0
    say "starting the machine's libvirtd (tools/start-libvirtd)"
    "$TOP/tools/start-libvirtd" 9>&- < /dev/null
}

libvirt_start() {
    with_machine_lock start_machine_libvirtd
    wait_for "libvirtd socket $LIBVIRT_SOCK" 60 test -S "$LIBVIRT_SOCK"
    if [ -z "$(running_pid libvirt-proxy)" ]; then
        say "relaying $PROXY_SOCK (user $CINDER_USER only) to $LIBVIRT_SOCK"
        start_bg libvirt-proxy root socat \
            "UNIX-LISTEN:$PROXY_SOCK,fork,unlink-early,user=$CINDER_USER,group=$CINDER_USER,mode=0600" \
            "UNIX-CONNECT:$LIBVIRT_SOCK"
    fi
}
