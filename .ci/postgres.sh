#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the test suite (issue 3: distributed tuning through
# PostgreSQL is tested against a real server).
#
# Installs Debian's `postgresql` package when it is missing (apt-get, as root or through `sudo -n`),
# initialises a cluster in a fresh temporary directory, starts it on 127.0.0.1 on a free port, creates a
# role and a database, and exports
#     AUTOOPT_TEST_POSTGRES_URL=postgresql+psycopg2://autoopt:<random>@127.0.0.1:<port>/autoopt
#     AUTOOPT_TEST_POSTGRES_REQUIRED=1   (the tests then fail, rather than skip, when it is unreachable)
# The server is stopped and its directory removed when the shell exits (EXIT trap).
#
# Two ways to use it:
#     source .ci/postgres.sh              # what .ci/run does; the server lives until that shell exits
#     .ci/postgres.sh COMMAND [ARGS...]   # run COMMAND with the server up; exits with COMMAND's status,
#                                         # e.g. .ci/postgres.sh .venv/bin/python -m pytest tests/tuning
#
# Environment:
#     AUTOOPT_CI_SKIP_POSTGRES=1   opt out: start nothing, so the PostgreSQL tests skip. Without it every
#                                  failure (no apt-get, a failed install, a server that does not start)
#                                  is fatal, so that CI cannot silently skip the PostgreSQL tests.
#     AUTOOPT_TEST_POSTGRES_URL    when already set, that server is used and nothing is started.
#
# The setup sets an EXIT trap (and INT/TERM traps that exit through it); a script that sources this file
# must not replace them afterwards.

_autoopt_pg_log() { printf '[postgres.sh] %s\n' "$*" >&2; }

_autoopt_pg_die() {
    _autoopt_pg_log "ERROR: $*"
    _autoopt_pg_log "set AUTOOPT_CI_SKIP_POSTGRES=1 to run without PostgreSQL (its tests then skip)"
    return 1
}

# Newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl; prints nothing when none does.
_autoopt_pg_bindir() {
    local dir best=""
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/psql" ]]; then
            best="$dir"
        fi
    done
    printf '%s' "$best"
}

_autoopt_pg_install() {
    if dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed' \
        && [[ -n "$(_autoopt_pg_bindir)" ]]; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || { _autoopt_pg_die "PostgreSQL is not installed and apt-get is not available"; return 1; }
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { _autoopt_pg_die "installing PostgreSQL needs root (or sudo)"; return 1; }
        sudo=(sudo -n)
    fi
    _autoopt_pg_log "installing Debian's postgresql package"
    # No default 'main' cluster on port 5432: the package would start it and leave it running.
    "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d \
        && echo 'create_main_cluster = false' \
            | "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/autoopt-no-main.conf >/dev/null \
        || { _autoopt_pg_die "could not write /etc/postgresql-common/createcluster.d"; return 1; }
    local log
    log="$(mktemp)"
    if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq update \
        && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends \
            postgresql; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        _autoopt_pg_die "apt-get could not install postgresql"
        return 1
    fi
    rm -f "$log"
    [[ -n "$(_autoopt_pg_bindir)" ]] || { _autoopt_pg_die "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"; return 1; }
}

_autoopt_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_autoopt_pg_stop() {
    if [[ -n "${_AUTOOPT_PG_DIR:-}" && -d "$_AUTOOPT_PG_DIR" ]]; then
        if [[ -f "$_AUTOOPT_PG_DIR/data/postmaster.pid" ]]; then
            "${_AUTOOPT_PG_AS[@]}" "$_AUTOOPT_PG_BIN/pg_ctl" -D "$_AUTOOPT_PG_DIR/data" -m fast -w -t 60 stop \
                >/dev/null 2>&1 || _autoopt_pg_log "WARNING: pg_ctl stop failed; see $_AUTOOPT_PG_DIR/server.log"
        fi
        if [[ ! -f "$_AUTOOPT_PG_DIR/data/postmaster.pid" ]]; then
            rm -rf "$_AUTOOPT_PG_DIR"
            _autoopt_pg_log "stopped the server and removed its directory"
        fi
    fi
    _AUTOOPT_PG_DIR=""
}

_autoopt_pg_start() {
    _AUTOOPT_PG_BIN="$(_autoopt_pg_bindir)"
    # The server refuses to run as root: as root, run the server-side tools as the 'postgres' user.
    _AUTOOPT_PG_AS=()
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || { _autoopt_pg_die "running as root but there is no 'postgres' user"; return 1; }
        _AUTOOPT_PG_AS=(runuser -u postgres --)
    fi
    # Under /tmp, not $TMPDIR: the 'postgres' user must reach it, and a socket path has at most 107 bytes.
    _AUTOOPT_PG_DIR="$(mktemp -d /tmp/autoopt-pg.XXXXXX)" || { _autoopt_pg_die "mktemp failed"; return 1; }
    trap _autoopt_pg_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$_AUTOOPT_PG_DIR" || { _autoopt_pg_die "chown of $_AUTOOPT_PG_DIR failed"; return 1; }
    fi
    chmod 700 "$_AUTOOPT_PG_DIR"
    local dir="$_AUTOOPT_PG_DIR"
    if ! "${_AUTOOPT_PG_AS[@]}" "$_AUTOOPT_PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        _autoopt_pg_die "initdb failed"
        return 1
    fi
    # Loopback only, socket in the private directory, durability off (a throwaway test server).
    "${_AUTOOPT_PG_AS[@]}" tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF || { _autoopt_pg_die "could not write postgresql.conf"; return 1; }
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    local port attempt started=""
    for attempt in 1 2 3 4 5; do
        port="$(_autoopt_pg_free_port)" || { _autoopt_pg_die "python3 is needed to find a free port"; return 1; }
        if "${_AUTOOPT_PG_AS[@]}" "$_AUTOOPT_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port" start >/dev/null 2>&1; then
            started=1
            break
        fi
        grep -q 'could not bind\|Address already in use' "$dir/server.log" 2>/dev/null || break
        _autoopt_pg_log "port $port was taken; retrying ($attempt)"
    done
    if [[ -z "$started" ]]; then
        tail -n 30 "$dir/server.log" >&2 2>/dev/null
        _autoopt_pg_die "the PostgreSQL server did not start"
        return 1
    fi
    local password
    password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    if ! "$_AUTOOPT_PG_BIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE autoopt LOGIN CREATEDB PASSWORD '$password'" \
        -c "CREATE DATABASE autoopt OWNER autoopt" >"$dir/setup.log" 2>&1; then
        cat "$dir/setup.log" >&2
        _autoopt_pg_die "could not create the test role and database"
        return 1
    fi
    # The tests connect over TCP with a password: check exactly that path.
    if ! PGPASSWORD="$password" "$_AUTOOPT_PG_BIN/psql" -h 127.0.0.1 -p "$port" -U autoopt -d autoopt -X -q \
        -tA -c 'SELECT 1' >/dev/null 2>"$dir/setup.log"; then
        cat "$dir/setup.log" >&2
        _autoopt_pg_die "the server does not accept password logins on 127.0.0.1:$port"
        return 1
    fi
    export AUTOOPT_TEST_POSTGRES_URL="postgresql+psycopg2://autoopt:$password@127.0.0.1:$port/autoopt"
    export AUTOOPT_TEST_POSTGRES_REQUIRED=1
    _autoopt_pg_log "PostgreSQL $("$_AUTOOPT_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)"
}

_autoopt_pg_main() {
    if [[ "${AUTOOPT_CI_SKIP_POSTGRES:-}" == 1 ]]; then
        _autoopt_pg_log "AUTOOPT_CI_SKIP_POSTGRES=1: no PostgreSQL server; its tests will skip"
        return 0
    fi
    if [[ -n "${AUTOOPT_TEST_POSTGRES_URL:-}" ]]; then
        _autoopt_pg_log "using the server in AUTOOPT_TEST_POSTGRES_URL; starting none"
        export AUTOOPT_TEST_POSTGRES_REQUIRED=1
        return 0
    fi
    _autoopt_pg_install || return 1
    _autoopt_pg_start || return 1
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    _autoopt_pg_main || return 1
else
    set -uo pipefail
    if [[ $# -eq 0 ]]; then
        echo "usage: $0 COMMAND [ARGS...]   (or: source $0)" >&2
        exit 2
    fi
    _autoopt_pg_main || exit 1
    "$@"
    exit $?
fi
