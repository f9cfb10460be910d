#!/usr/bin/env bash
# A real Apache Kafka 4.x broker (KRaft, one node) on 127.0.0.1:9092 as a background process.
# Jars come from Maven Central (deploy/local/kafka/pom.xml); state lives in $AID_INFRA_DIR/kafka.
# A SASL_SSL listener on 127.0.0.1:9094 uses a certificate this script makes ($state/tls/ca.pem signs it).
#   kafka.sh start | stop | restart | status | install | principals [TOPIC_PREFIX]
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
  certs
  echo "listener.name.sasl_ssl.ssl.keystore.location=$state/tls/broker.pem" >>"$props"
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

# A local CA and a broker certificate for 127.0.0.1/localhost (clients trust $state/tls/ca.pem).
certs() {
  local tls="$state/tls"
  [ -f "$tls/broker.pem" ] && return
  if ! command -v openssl >/dev/null; then
    log "installing openssl (Debian package)"
    { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; } || { log "openssl missing: apt-get install -y openssl"; exit 1; }
  fi
  mkdir -p "$tls"
  log "making a local CA and a broker certificate in $tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=crisisaid local CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls/broker.key" -out "$tls/broker.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/san.ext"
  openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 3650 \
    -extfile "$tls/san.ext" -out "$tls/broker.crt" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$tls/broker.key" -out "$tls/broker.pk8"
  cat "$tls/broker.pk8" "$tls/broker.crt" "$tls/ca.pem" >"$tls/broker.pem"
  chmod 600 "$tls"/*.key "$tls/broker.pk8" "$tls/broker.pem"
}

# One SCRAM-SHA-512 principal per service, and the ACLs that say what each may do (the same as the Strimzi
# KafkaUsers in deploy/k8s/base/kafka-users.yaml): it writes only its own topic (and the dead letters), reads
# what it consumes, and uses its own consumer group. The console's live feed only reads the pledges and projects
# topics (from their tail, in no consumer group) and writes nothing. TOPIC_PREFIX (tests) is prepended to topics
# and groups. Passwords land in $state/tls/<principal>.password.
principals() {
  local prefix="${1:-}" tools=("${java_cmd[@]}")
  declare -A writes=([pledges]="aid.pledges.v1" [projects]="aid.projects.v1" [notifications]="aid.alerts.v1 aid.partners.v1")
  declare -A reads=([pledges]="aid.projects.v1 aid.partners.v1" [projects]="aid.pledges.v1 aid.partners.v1" [notifications]="aid.pledges.v1 aid.projects.v1" [console]="aid.pledges.v1 aid.projects.v1")
  for svc in pledges projects notifications console; do
    local pw_file="$state/tls/$svc.password"
    [ -f "$pw_file" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$pw_file"
    "${tools[@]}" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$port" --alter --entity-type users \
      --entity-name "$svc" --add-config "SCRAM-SHA-512=[iterations=4096,password=$(cat "$pw_file")]" >/dev/null
    local acl=(org.apache.kafka.tools.AclCommand --bootstrap-server "127.0.0.1:$port" --add --allow-principal "User:$svc")
    local out=() in=()
    for t in ${reads[$svc]}; do in+=(--topic "$prefix$t"); done
    if [ "$svc" = console ]; then
      "${tools[@]}" "${acl[@]}" --operation Read --operation Describe "${in[@]}" >/dev/null
      continue
    fi
    for t in ${writes[$svc]} aid.deadletter.v1; do out+=(--topic "$prefix$t"); done
    "${tools[@]}" "${acl[@]}" --operation Write --operation Describe "${out[@]}" >/dev/null
    "${tools[@]}" "${acl[@]}" --operation Read --operation Describe "${in[@]}" --group "$prefix$svc" >/dev/null
  done
  log "principals pledges, projects, notifications, console with their ACLs${prefix:+ (prefix $prefix)}"
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
  principals) principals "${2:-}" ;;
  status) if running; then echo "kafka running (pid $(cat "$pidfile"))"; else echo "kafka stopped"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|restart|status|install|principals [TOPIC_PREFIX]" >&2; exit 2 ;;
esac
