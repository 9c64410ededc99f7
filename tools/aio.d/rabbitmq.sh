# shellcheck shell=bash
# RabbitMQ: one node of the stack's own, AMQP on $HOST:5672, its Erlang
# distribution on $HOST:$RABBIT_DIST_PORT.
#
# epmd, the Erlang port mapper, is machine-wide by design: every Erlang
# node registers with the epmd on 127.0.0.1:4369 (Erlang's erl_epmd has
# that address built in) and epmd always listens on loopback.  So the
# stacks share one epmd on 127.0.0.1, started when none runs and never
# stopped by down, and each stack's node has a name of its own
# (rabbit@localhost on 127.0.0.1, rabbit-127-0-1-2@localhost on
# 127.0.1.2) and a distribution port of its own: RabbitMQ checks that the
# port is free on every address before it starts.
aio_piece rabbitmq
aio_shared_proc epmd port_open 127.0.0.1 4369
aio_proc rabbitmq rabbitmq-server
aio_secret RABBIT_PASSWORD
DEBS+=(rabbitmq-server)

RABBIT_PORT=5672
if [ "$HOST" = 127.0.0.1 ]; then
    RABBIT_NODE=rabbit@localhost
    RABBIT_DIST_PORT=${AIO_RABBIT_DIST_PORT:-25672}
else
    RABBIT_NODE=rabbit-${HOST//./-}@localhost
    # 127.A.B.C: 26000 + (B * 256 + C) mod 4000 (127.0.1.2: 26258).
    RABBIT_DIST_PORT=${AIO_RABBIT_DIST_PORT:-$(( 26000 + (HOST_OCTETS[2] * 256 + HOST_OCTETS[3]) % 4000 ))}
fi
aio_export RABBIT_NODE "$RABBIT_NODE"
aio_port rabbitmq "$RABBIT_PORT"

rabbit_env() {
    local erl_if="{${HOST//./,}}"
    RABBIT_ENV=(
        HOME="$DATA/rabbitmq"          # its Erlang cookie
        RABBITMQ_NODENAME=$RABBIT_NODE
        RABBITMQ_NODE_IP_ADDRESS=$HOST
        RABBITMQ_NODE_PORT=$RABBIT_PORT
        RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
        RABBITMQ_MNESIA_BASE="$DATA/rabbitmq/mnesia"
        RABBITMQ_LOG_BASE="$LOG/rabbitmq"
        RABBITMQ_CONFIG_FILE="$ETC/rabbitmq/rabbitmq.conf"
        RABBITMQ_ENABLED_PLUGINS_FILE="$ETC/rabbitmq/enabled_plugins"
        RABBITMQ_PID_FILE="$RUN/rabbitmq-beam.pid"
        ERL_EPMD_ADDRESS=127.0.0.1
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface $erl_if"
        RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface $erl_if"
    )
}

rabbit_sbin() { ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin | sort -V | tail -n 1; }

rabbitmq_configure() {
    mkdir -p "$ETC/rabbitmq" "$DATA/rabbitmq" "$LOG/rabbitmq"
    write_conf "$ETC/rabbitmq/rabbitmq.conf" rabbitmq <<EOT
listeners.tcp.default = $HOST:$RABBIT_PORT
default_user = incsnap
default_pass = $RABBIT_PASSWORD
default_vhost = /
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
management_agent.disable_metrics_collector = true
EOT
    echo '[].' | write_conf "$ETC/rabbitmq/enabled_plugins" rabbitmq
}

start_epmd() {
    port_open 127.0.0.1 4369 && return 0
    say "starting the machine's epmd on 127.0.0.1:4369 (shared by the stacks)"
    ERL_EPMD_ADDRESS=127.0.0.1 epmd -daemon -address 127.0.0.1 9>&- < /dev/null
}

rabbitmq_start() {
    with_machine_lock start_epmd
    wait_for "epmd on 127.0.0.1:4369" 30 port_open 127.0.0.1 4369
    rabbit_env
    if needs_start rabbitmq; then
        port_free rabbitmq "$HOST" "$RABBIT_PORT"
        if ss -Hltn "( sport = :$RABBIT_DIST_PORT )" | grep -q .; then
            die "rabbitmq: its distribution port $RABBIT_DIST_PORT is taken" \
                "($(ss -Hltnp "( sport = :$RABBIT_DIST_PORT )" | awk '{print $4, $6}' | head -n 1));" \
                "set AIO_RABBIT_DIST_PORT"
        fi
        say "starting rabbitmq on $HOST:$RABBIT_PORT"
        start_bg rabbitmq root env "${RABBIT_ENV[@]}" "$(rabbit_sbin)/rabbitmq-server"
    fi
}

rabbitmq_ready() {
    wait_for "rabbitmq port $RABBIT_PORT" 90 port_open "$HOST" "$RABBIT_PORT"
}
