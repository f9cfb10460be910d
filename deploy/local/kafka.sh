#!/usr/bin/env bash
# A real Apache Kafka 4.x broker (KRaft, one node) on 127.0.0.1:9092 as a background process.
# Jars come from Maven Central (deploy/local/kafka/pom.xml); state lives in $AID_INFRA_DIR/kafka.
#   kafka.sh start | stop | restart | status | install
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
state="${AID_INFRA_DIR:-$repo/.infra}/kafka"
libs="$here/kafka/libs"
pidfile="$state/kafka.pid"
port=9092

log() { printf '[kafka] %s\n' "$*" >&2; }

install() {
  if [ -f "$libs/.complete" ]; then return; fi
  command -v java >/dev/null || { log "java not found: install a JDK 17 (apt-get install -y openjdk-17-jre-headless)"; exit 1; }
  command -v mvn >/dev/null || { log "mvn not found: install Maven (apt-get install -y maven)"; exit 1; }
  log "resolving Kafka jars from Maven Central into $libs"
  rm -rf "$libs"
  (cd "$here/kafka" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=libs -DincludeScope=runtime)
  touch "$libs/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# Small heap: the machine has 2 cores and runs PostgreSQL and the services beside the broker.
java_cmd=(java -Xms256m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$here/kafka/log4j2.properties" -cp "$libs/*")

start() {
  install
  if running; then log "already running (pid $(cat "$pidfile"))"; return; fi
  mkdir -p "$state"
  local props="$state/server.properties"
  cp "$here/kafka/server.properties" "$props"
  echo "log.dirs=$state/data" >>"$props"
  if [ ! -f "$state/data/meta.properties" ]; then
    log "formatting storage in $state/data"
    "${java_cmd[@]}" kafka.tools.StorageTool format -t "$(cat "$state/cluster-id" 2>/dev/null || uuidgen_kafka)" -c "$props" >"$state/format.log" 2>&1 \
      || { cat "$state/format.log" >&2; exit 1; }
  fi
  log "starting broker on 127.0.0.1:$port"
  nohup "${java_cmd[@]}" kafka.Kafka "$props" >>"$state/kafka.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if port_open; then log "ready (pid $(cat "$pidfile"))"; return; fi
    running || { tail -30 "$state/kafka.log" >&2; log "broker exited during start"; exit 1; }
    sleep 0.5
  done
  tail -30 "$state/kafka.log" >&2; log "broker did not open port $port within 60 s"; exit 1
}

uuidgen_kafka() {
  local id; id="$("${java_cmd[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  echo "$id" >"$state/cluster-id"; echo "$id"
}

stop() {
  if ! running; then rm -f "$pidfile"; log "not running"; return; fi
  local pid; pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { log "broker did not stop in 30 s: killing"; kill -KILL "$pid" || true; }
  rm -f "$pidfile"; log "stopped"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running; then echo "kafka running (pid $(cat "$pidfile"))"; else echo "kafka stopped"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|restart|status|install" >&2; exit 2 ;;
esac
