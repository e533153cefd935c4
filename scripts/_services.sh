# Sourced by scripts/test: a PostgreSQL and a Redis server for the contract and e2e suites.
#
# Servers named by URL in the environment are used as they are:
#   ROTA_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres)
#   ROTA_TEST_REDIS_URL    (e.g. redis://127.0.0.1:6379/0)
# Else the standard local ports are used when a server answers there.
# Else Debian's postgresql / redis-server are installed with apt-get and
# private servers are started on other ports, and stopped when the tests end.
# ROTA_TEST_PRIVATE_SERVERS=1 skips the standard ports (to check that path).
# The redis-server and redis-cli programs are installed in any case: the Redis
# Cluster tests start a private cluster.

_svc_dir="$ROOT/.rota-test-services"
_svc_cleanup=()

_port_open() { # host port
    "$VENV/bin/python" - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1.0)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
}

_apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "error: need $* for the tests; run as root or set ROTA_TEST_POSTGRES_URL/ROTA_TEST_REDIS_URL" >&2
        exit 2
    fi
    if [ -z "${_svc_apt_updated:-}" ]; then
        apt-get update -qq >&2
        _svc_apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

_start_private_postgres() {
    local port=54329 bindir data
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        _apt_install postgresql
    fi
    bindir="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")"
    data="$_svc_dir/pg"
    rm -rf "$data" && mkdir -p "$data" && chown postgres: "$data" "$_svc_dir"
    echo "==> starting a private PostgreSQL on 127.0.0.1:$port" >&2
    runuser -u postgres -- "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -w -l "$data/log" \
        -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    _svc_cleanup+=("runuser -u postgres -- $bindir/pg_ctl -D $data -m immediate stop")
    export ROTA_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}

_start_private_redis() {
    local port=63799
    command -v redis-server >/dev/null || _apt_install redis-server
    mkdir -p "$_svc_dir"
    echo "==> starting a private Redis on 127.0.0.1:$port" >&2
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
        --pidfile "$_svc_dir/redis.pid" --logfile "$_svc_dir/redis.log" --dir "$_svc_dir"
    _svc_cleanup+=("redis-cli -p $port shutdown nosave")
    export ROTA_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
}

_stop_services() {
    local cmd
    for cmd in "${_svc_cleanup[@]}"; do
        $cmd >/dev/null 2>&1 || true
    done
}
trap _stop_services EXIT

if [ -z "${ROTA_TEST_POSTGRES_URL:-}" ]; then
    if [ -z "${ROTA_TEST_PRIVATE_SERVERS:-}" ] && _port_open 127.0.0.1 5432; then
        export ROTA_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:5432/postgres"
    else
        _start_private_postgres
    fi
fi
if [ -z "${ROTA_TEST_REDIS_URL:-}" ]; then
    if [ -z "${ROTA_TEST_PRIVATE_SERVERS:-}" ] && _port_open 127.0.0.1 6379; then
        export ROTA_TEST_REDIS_URL="redis://127.0.0.1:6379/0"
    else
        _start_private_redis
    fi
fi
# The Redis Cluster contract tests start a private 3-node cluster of their own:
# they need the redis-server and redis-cli programs even when a server is named.
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || _apt_install redis-server
echo "==> PostgreSQL: $ROTA_TEST_POSTGRES_URL   Redis: $ROTA_TEST_REDIS_URL" >&2
