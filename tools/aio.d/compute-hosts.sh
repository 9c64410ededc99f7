# shellcheck shell=bash
# compute-hosts (optional): cinder-volume reaches the two compute hosts of
# tools/compute-hosts (compute1, compute2) over TLS, as the volume host of
# a cloud does, instead of the machine's libvirtd through the relay of
# libvirt.sh.  On with AIO_COMPUTE_HOSTS=1 (the hosts' state in
# $INCSNAP_COMPUTE_DIR or the checkout's .compute) or =<that folder>; the
# choice is kept in stack.env (COMPUTE_HOSTS), so later commands on the
# stack need no setting; AIO_COMPUTE_HOSTS=0 turns it off again.
#
# incsnap_libvirt_uri = qemu+tls://{host}/system?pkipath=$AIO/pki/compute:
# the attachment's host (Nova's connector host) picks the libvirtd.  The
# client certificate tools/compute-hosts made for the volume host is
# copied there, readable by user cinder only.  The hosts themselves are
# tools/compute-hosts' (up/down there, never here): the stack starts
# without them, and a snapshot of a volume attached on a host that does
# not answer fails naming the host.
aio_piece compute-hosts

RECORDED_COMPUTE=$(sed -n "s/^COMPUTE_HOSTS=//p" "$AIO/stack.env" 2>/dev/null | head -n 1 || true)
COMPUTE_HOSTS=${AIO_COMPUTE_HOSTS-$RECORDED_COMPUTE}
case "$COMPUTE_HOSTS" in
    1|yes) COMPUTE_HOSTS=${INCSNAP_COMPUTE_DIR:-$TOP/.compute} ;;
    0|no) COMPUTE_HOSTS= ;;
esac
aio_export COMPUTE_HOSTS "$COMPUTE_HOSTS"
COMPUTE_PKI=$AIO/pki/compute
if [ -n "$COMPUTE_HOSTS" ]; then
    LIBVIRT_URI="qemu+tls://{host}/system?pkipath=$COMPUTE_PKI"
    # stack.env says which URI the driver has.
    for i in "${!EXPORTS[@]}"; do
        case "${EXPORTS[$i]}" in
            LIBVIRT_URI=*) EXPORTS[$i]="LIBVIRT_URI=$LIBVIRT_URI" ;;
        esac
    done
fi

compute_hosts_configure() {
    [ -n "$COMPUTE_HOSTS" ] || return 0
    local src=$COMPUTE_HOSTS/pki/client f
    [ -f "$src/clientcert.pem" ] ||
        die "no compute hosts' client certificate in $src: run" \
            "tools/compute-hosts up (INCSNAP_COMPUTE_DIR=$COMPUTE_HOSTS)"
    install -d -o "$CINDER_USER" -g "$CINDER_USER" -m 0700 "$AIO/pki" "$COMPUTE_PKI"
    for f in cacert.pem clientcert.pem clientkey.pem; do
        if ! cmp -s "$src/$f" "$COMPUTE_PKI/$f"; then
            install -o "$CINDER_USER" -g "$CINDER_USER" -m 0600 "$src/$f" "$COMPUTE_PKI/$f"
            RESTART[cinder-volume]=1
        fi
    done
}

compute_hosts_report() {
    [ -n "$COMPUTE_HOSTS" ] || return 0
    say "cinder-volume reaches the compute hosts at $LIBVIRT_URI"
}
