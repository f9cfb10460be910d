#!/bin/sh
exec java -Xmx64m -XX:+UseSerialGC -cp '/opt/kafka/libs/*' org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
