#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one node) assembled from Maven Central jars, with SASL/SCRAM-SHA-512 and ACLs.
# Usage: kafka.sh fetch|start|stop|wipe|status
# The first start formats the storage with a super user whose credentials go to $data/admin.json (0600);
# the platform (`conveyor up`) and the tests create each service's user and ACLs with them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${CONVEYOR_KAFKA_CACHE:-$root/.cache/kafka}
data=${CONVEYOR_KAFKA_DATA:-$root/var/kafka}
port=${CONVEYOR_KAFKA_PORT:-9092}
cport=${CONVEYOR_KAFKA_CONTROLLER_PORT:-9093}
libs=$cache/libs
pidfile=$data/kafka.pid
log=$data/kafka.log
admin_user=conveyor-admin
controller_user=conveyor-controller

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  mkdir -p "$libs"
  mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs"
  touch "$libs/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The secrets, made once per data dir: the super user's (clients) and the controller listener's.
credentials() {
  if [ -f "$data/logs/meta.properties" ] && [ ! -f "$data/admin.json" ]; then
    echo "kafka: $data was formatted before the broker required SASL; its data cannot be reused." >&2
    echo "kafka: run 'deploy/local/kafka.sh wipe' (deletes this local broker's topics), then start again." >&2
    return 1
  fi
  if [ ! -f "$data/admin.json" ]; then
    (umask 077
     printf '{"bootstrap_servers": "127.0.0.1:%s", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "%s", "sasl_password": "%s"}\n' \
       "$port" "$admin_user" "$(secret)" > "$data/admin.json.tmp"
     secret > "$data/controller.secret"
     mv "$data/admin.json.tmp" "$data/admin.json")
  fi
  admin_password=$(sed -e 's/.*"sasl_password": "\([^"]*\)".*/\1/' "$data/admin.json")
  controller_password=$(cat "$data/controller.secret")
}

start() {
  local external=${CONVEYOR_KAFKA__BOOTSTRAP_SERVERS:-}
  if [ -n "$external" ] && [ "$external" != "127.0.0.1:$port" ]; then
    echo "kafka: CONVEYOR_KAFKA__BOOTSTRAP_SERVERS=$external; not starting a local broker"; return 0
  fi
  if running; then echo "kafka: already running (pid $(cat "$pidfile"))"; return 0; fi
  if port_open; then echo "kafka: something already listens on 127.0.0.1:$port; using it"; return 0; fi
  fetch
  mkdir -p "$data"
  credentials
  (umask 077
   sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$cport#g" -e "s#@DATA_DIR@#$data#g" \
     -e "s#@ADMIN_USER@#$admin_user#g" -e "s#@ADMIN_PASSWORD@#$admin_password#g" \
     -e "s#@CONTROLLER_USER@#$controller_user#g" -e "s#@CONTROLLER_PASSWORD@#$controller_password#g" \
     "$here/server.properties.in" > "$data/server.properties")
  if [ ! -f "$data/logs/meta.properties" ]; then
    local id
    id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid)
    java -cp "$libs/*" kafka.tools.StorageTool format -t "$id" -c "$data/server.properties" --ignore-formatted \
      --add-scram "SCRAM-SHA-512=[name=$admin_user,password=$admin_password]" > "$data/format.log" 2>&1
  fi
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info -Dorg.slf4j.simpleLogger.log.kafka.server.BrokerServer=info \
    -Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn -Dorg.slf4j.simpleLogger.log.kafka.utils.Log4jControllerRegistration$=warn \
    -cp "$libs/*" kafka.Kafka "$data/server.properties" > "$log" 2>&1 &
  echo $! > "$pidfile"
  # Readiness: the broker logs this line once its listeners accept requests.
  for _ in $(seq 1 600); do
    if grep -q "Kafka Server started" "$log" 2>/dev/null && port_open; then
      echo "kafka: started on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return 0
    fi
    if ! running; then echo "kafka: exited during start; last lines of $log:" >&2; tail -20 "$log" >&2; return 1; fi
    sleep 0.1
  done
  echo "kafka: not ready after 60 s; see $log" >&2; return 1
}

stop() {
  if ! running; then rm -f "$pidfile"; echo "kafka: not running"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "kafka: stopped"; return 0; }; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$pidfile"; echo "kafka: killed after 30 s"
}

wipe() { stop; rm -rf "$data"; echo "kafka: data wiped ($data)"; }

status() { if running; then echo "kafka: running (pid $(cat "$pidfile"))"; else echo "kafka: stopped"; return 1; fi; }

case "${1:-}" in
  fetch) fetch ;; start) start ;; stop) stop ;; wipe) wipe ;; status) status ;;
  *) echo "usage: $0 fetch|start|stop|wipe|status" >&2; exit 2 ;;
esac
