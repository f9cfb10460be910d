#!/bin/sh
# KAFKA_NODE_ID=1 → node.id=1, as the official image does (_ → ., __ → _, ___ → -); formats the log directory once.
set -euf  # -f: the classpath /opt/kafka/libs/* is for java to expand, not the shell
props=/opt/kafka/config/server.properties
: >"$props"
env | grep '^KAFKA_' | grep -v -E '^KAFKA_(HEAP_OPTS|OPTS|JVM_PERFORMANCE_OPTS|LOG4J_OPTS)=' | while IFS='=' read -r name value; do
  key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
  printf '%s=%s\n' "$key" "$value" >>"$props"
done
grep -q '^log.dirs=' "$props" || echo "log.dirs=/var/lib/kafka/data" >>"$props"
java="java ${KAFKA_HEAP_OPTS:--Xmx512m} -XX:+UseSerialGC -Djava.awt.headless=true -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp /opt/kafka/libs/*"
dir=$(sed -n 's/^log.dirs=//p' "$props")
if [ ! -f "$dir/meta.properties" ]; then
  $java kafka.tools.StorageTool format -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$props"
fi
exec $java kafka.Kafka "$props"
