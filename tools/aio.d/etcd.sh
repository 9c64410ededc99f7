# shellcheck shell=bash
# etcd: the stack's coordination backend (Cinder's [coordination]
# backend_url, through tooz's etcd3gw driver, as devstack configures it).
# One member of the stack's own, its data in data/etcd, client URL
# $HOST:$ETCD_PORT and peer URL $HOST:$ETCD_PEER_PORT: several stacks on one
# machine each have their own (on their own AIO_HOST, same ports).
#
# Listed before cinder: every cinder-volume of the stack (one, or two with
# --nodes 2) takes its volume locks here, so the locks exclude across
# nodes.  A lock is a key on a lease of ETCD_LOCK_TTL seconds that the
# holder's heartbeat refreshes every ETCD_HEARTBEAT seconds; a holder that
# dies releases its locks when the lease lapses.
aio_piece etcd
aio_proc etcd "$HOST:2379"
DEBS+=(etcd-server)
# tooz ships with Cinder; its etcd3gw driver needs the client.
PIP_PKGS+=(etcd3gw)

ETCD_PORT=${AIO_ETCD_PORT:-2379}
ETCD_PEER_PORT=${AIO_ETCD_PEER_PORT:-2380}
ETCD_DATA=$DATA/etcd
aio_port etcd "$ETCD_PORT"
aio_port etcd "$ETCD_PEER_PORT"
ETCD_URL=http://$HOST:$ETCD_PORT
# Lease of a lock (tooz lock_timeout) and the heartbeat period (tooz's
# heart beats every min(lock_timeout, membership_timeout) seconds): beat
# well inside the lease, so that a busy node keeps its locks while a dead
# one loses them after the lease.
ETCD_LOCK_TTL=${AIO_ETCD_LOCK_TTL:-20}
ETCD_HEARTBEAT=${AIO_ETCD_HEARTBEAT:-5}
# Cinder's coordination (cinder.sh: AIO_COORDINATION_URL may replace it
# for the cinder-volume nodes, e.g. per-node file locks of a control run).
CINDER_COORDINATION_URL=etcd3+$ETCD_URL?lock_timeout=$ETCD_LOCK_TTL\&membership_timeout=$ETCD_HEARTBEAT
aio_export ETCD_URL "$ETCD_URL"
aio_export ETCD_LOCK_TTL "$ETCD_LOCK_TTL"

etcd_name() { echo "aio-${HOST//./-}"; }

etcd_start() {
    if needs_start etcd; then
        port_free etcd "$HOST" "$ETCD_PORT"
        port_free etcd "$HOST" "$ETCD_PEER_PORT"
        install -d -m 0700 "$ETCD_DATA"
        say "starting etcd on $HOST:$ETCD_PORT"
        start_bg etcd root /usr/bin/etcd --name "$(etcd_name)" \
            --data-dir "$ETCD_DATA" \
            --listen-client-urls "$ETCD_URL" \
            --advertise-client-urls "$ETCD_URL" \
            --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
            --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
            --initial-cluster "$(etcd_name)=http://$HOST:$ETCD_PEER_PORT" \
            --initial-cluster-state new
    fi
}

etcd_healthy() { curl -fsS --max-time 5 "$ETCD_URL/health" | grep -q '"health":"true"'; }

etcd_ready() {
    wait_for "etcd on $HOST:$ETCD_PORT" 60 etcd_healthy
}
