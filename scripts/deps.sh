# Shared by scripts/test.sh and bench/run.sh: installs what the tests and benchmarks
# need, and finds or starts a PostgreSQL server. Sourced, not run.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

APT_UPDATED=""
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_moto() {
  if ! command -v moto_server >/dev/null 2>&1; then
    echo "installing moto_server (S3-compatible test server) from PyPI"
    python3 -m pip install --quiet 'moto[server]>=5,<6' || as_root python3 -m pip install --quiet --break-system-packages 'moto[server]>=5,<6'
    hash -r
  fi
  command -v moto_server >/dev/null || { echo "moto_server is still not on PATH" >&2; return 1; }
}

# A python3 that can make virtualenvs (Debian's needs python3-venv for that).
ensure_venv() {
  local probe
  probe=$(mktemp -d)
  if ! python3 -m venv "$probe/v" >/dev/null 2>&1; then ensure_apt python3-venv; fi
  rm -rf "$probe"
}

pg_answers() {
  psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

# Exports PORTCULLIS_TEST_PG_URL: the local server when one answers, otherwise a
# throwaway cluster started here and stopped when the calling script exits.
ensure_postgres() {
  if [ -n "${PORTCULLIS_TEST_PG_URL:-}" ] && pg_answers "$PORTCULLIS_TEST_PG_URL"; then return 0; fi
  ensure_apt postgresql-client
  for url in postgres://postgres@127.0.0.1:5432/postgres postgres://root@127.0.0.1:5432/postgres; do
    if pg_answers "$url"; then export PORTCULLIS_TEST_PG_URL="$url"; echo "using PostgreSQL at $url"; return 0; fi
  done
  echo "no PostgreSQL answers on 127.0.0.1:5432: starting a throwaway cluster"
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$bindir" ]; then ensure_apt postgresql; bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1); fi
  id postgres >/dev/null 2>&1 || as_root useradd --system --no-create-home postgres
  PG_TMP=$(mktemp -d /tmp/portcullis-pg.XXXXXX)
  chmod 755 "$PG_TMP"; as_root chown postgres "$PG_TMP"
  local port=55432
  as_root su postgres -s /bin/sh -c "'$bindir/initdb' -D '$PG_TMP/data' -A trust -U postgres >/dev/null"
  as_root su postgres -s /bin/sh -c "'$bindir/pg_ctl' -D '$PG_TMP/data' -l '$PG_TMP/log' -w -o \"-p $port -k $PG_TMP -c listen_addresses=127.0.0.1\" start >/dev/null"
  export PORTCULLIS_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  trap "as_root su postgres -s /bin/sh -c \"'$bindir/pg_ctl' -D '$PG_TMP/data' -m fast stop\" >/dev/null 2>&1 || true" EXIT
  pg_answers "$PORTCULLIS_TEST_PG_URL" || { echo "the throwaway PostgreSQL did not start:" >&2; cat "$PG_TMP/log" >&2; return 1; }
}
