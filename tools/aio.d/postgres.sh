# shellcheck shell=bash
# PostgreSQL: one cluster of the stack's own in data/pgsql, on
# $HOST:$PG_PORT and a UNIX socket in run/pg; one database and role per
# service that asks for one (DATABASES).
aio_piece postgres
aio_proc postgres
aio_secret DB_PASSWORD
DEBS+=(postgresql)
PIP_PKGS+=(psycopg2-binary)

PG_PORT=${AIO_PG_PORT:-15432}
PGDATA=$DATA/pgsql
PGSOCK=$RUN/pg
aio_port postgres "$PG_PORT"
# Pieces append the databases they need (keystone, cinder ...).
DATABASES=()

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

psql_su() {
    setpriv --reuid=postgres --regid=postgres --init-groups -- \
        "$(pg_bin)/psql" -h "$PGSOCK" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

# db_url NAME: the SQLAlchemy URL of database NAME.
db_url() { echo "postgresql+psycopg2://$1:$DB_PASSWORD@$HOST:$PG_PORT/$1"; }

postgres_start() {
    install -d -o postgres -g postgres -m 0700 "$PGSOCK"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        say "initdb $PGDATA"
        install -d -o postgres -g postgres -m 0700 "$PGDATA"
        setpriv --reuid=postgres --regid=postgres --init-groups -- \
            "$(pg_bin)/initdb" -D "$PGDATA" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
            > "$LOG/initdb.log" 2>&1 || { cat "$LOG/initdb.log"; die "initdb failed"; }
    fi
    if [ -z "$(running_pid postgres)" ]; then
        port_free postgres "$HOST" "$PG_PORT"
        say "starting postgres on $HOST:$PG_PORT"
        start_bg postgres postgres "$(pg_bin)/postgres" -D "$PGDATA" \
            -c listen_addresses="$HOST" -p "$PG_PORT" \
            -c unix_socket_directories="$PGSOCK" -c fsync=off \
            -c max_connections=200
    fi
}

postgres_ready() {
    wait_for "postgres" 60 "$(pg_bin)/pg_isready" -q -h "$PGSOCK" -p "$PG_PORT"
    local db
    for db in "${DATABASES[@]}"; do
        if [ -z "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname='$db'")" ]; then
            psql_su -c "CREATE ROLE $db LOGIN PASSWORD '$DB_PASSWORD'"
        fi
        if [ -z "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname='$db'")" ]; then
            psql_su -c "CREATE DATABASE $db OWNER $db"
        fi
    done
}

postgres_stop() { stop_svc postgres INT; }   # "fast" shutdown
