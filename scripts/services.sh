#!/usr/bin/env bash
# Starts the services the test suite talks to for real: a PostgreSQL server on
# loopback (the back-office's scale backend). Idempotent. Prints nothing on success
# beyond one line; tests find the server through STOPLINE_TEST_PG (see tests/README).
set -euo pipefail
cmd=${1:-start}
[ "$cmd" = start ] || { echo "usage: $0 start" >&2; exit 2; }

if ! command -v pg_lsclusters >/dev/null; then
  echo "services: PostgreSQL is not installed (run scripts/setup.sh)" >&2
  exit 1
fi
sudo=""
as_postgres=(sudo -u postgres)
if [ "$(id -u)" -eq 0 ]; then
  as_postgres=(runuser -u postgres --)
else
  sudo="sudo"
fi

cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2" "$4}')
if [ -z "$cluster" ]; then
  $sudo pg_createcluster 15 main >/dev/null
  cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2" "$4}')
fi
read -r ver name status <<<"$cluster"
if [ "$status" != online ]; then
  $sudo pg_ctlcluster "$ver" "$name" start
fi
# A role and database for the tests; the password is only for loopback test use.
"${as_postgres[@]}" psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='stopline'" | grep -q 1 ||
  "${as_postgres[@]}" psql -qc "CREATE ROLE stopline LOGIN CREATEDB PASSWORD 'stopline-test'"
"${as_postgres[@]}" psql -qtAc "SELECT 1 FROM pg_database WHERE datname='stopline_test'" | grep -q 1 ||
  "${as_postgres[@]}" psql -qc "CREATE DATABASE stopline_test OWNER stopline"
echo "services: PostgreSQL $ver/$name online"
