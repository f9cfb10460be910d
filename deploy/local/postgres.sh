#!/usr/bin/env bash
# Local PostgreSQL on 127.0.0.1:5432 from Debian's packages, with the role aid/aid and one database per
# service (aid_pledges, aid_projects, aid_notifications).   postgres.sh start | stop | status | install
set -euo pipefail
port=5432
log() { printf '[postgres] %s\n' "$*" >&2; }

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }

install() {
  if [ -n "$(pg_version)" ] && [ -x "/usr/lib/postgresql/$(pg_version)/bin/postgres" ]; then return; fi
  log "installing PostgreSQL from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
}

cluster() {
  local v; v="$(pg_version)"
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$v main$"; then
    log "creating cluster $v/main"
    pg_createcluster "$v" main --port "$port" >/dev/null
  fi
  echo "$v"
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

start() {
  install
  local v; v="$(cluster)"
  if ! pg_lsclusters -h | awk -v v="$v" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting cluster $v/main"
    pg_ctlcluster "$v" main start
  fi
  for _ in $(seq 1 60); do as_postgres pg_isready -q -p "$port" && break; sleep 0.5; done
  as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE aid LOGIN CREATEDB PASSWORD ''aid'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aid')\gexec
-- Tests drop their throwaway databases WITH (FORCE); on PostgreSQL 15 that refuses a non-superuser when an
-- autovacuum worker happens to be in the database, unless the role is a member of pg_signal_backend.
SELECT 'GRANT pg_signal_backend TO aid' WHERE NOT pg_has_role('aid', 'pg_signal_backend', 'MEMBER')\gexec
SELECT format('CREATE DATABASE %I OWNER aid', d) FROM unnest(ARRAY['aid_pledges','aid_projects','aid_notifications']) d
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)\gexec
SQL
  log "ready at postgresql://aid:aid@127.0.0.1:$port/"
}

stop() {
  local v; v="$(pg_version)"
  [ -n "$v" ] || { log "not installed"; return; }
  if pg_lsclusters -h | awk -v v="$v" '$1==v && $2=="main" {print $4}' | grep -q online; then
    pg_ctlcluster "$v" main stop -m fast; log "stopped"
  else
    log "not running"
  fi
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) pg_lsclusters ;;
  *) echo "usage: $0 start|stop|restart|status|install" >&2; exit 2 ;;
esac
