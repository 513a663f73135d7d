{{/*
The environment of one service's container: the settings it reads today (CONVEYOR_*), and those the
object-store work will read (see the chart's README). Call with (dict "root" $ "name" "serving").
*/}}
{{- define "conveyor.env" -}}
{{- $root := .root }}
{{- $name := .name }}
{{- $svc := index $root.Values.services $name -}}
- name: CONVEYOR_HOST
  value: "0.0.0.0"
- name: CONVEYOR_PORT
  value: {{ $svc.port | quote }}
- name: CONVEYOR_DATA_DIR
  value: /data
- name: CONVEYOR_KAFKA__BOOTSTRAP_SERVERS
  value: {{ include "conveyor.bootstrapServers" $root | quote }}
{{- with $root.Values.kafka.topicPrefix }}
- name: CONVEYOR_KAFKA__TOPIC_PREFIX
  value: {{ . | quote }}
{{- end }}
- name: CONVEYOR_KAFKA__MAX_RETRIES
  value: {{ $root.Values.kafka.maxRetries | quote }}
- name: CONVEYOR_TELEMETRY__SERVICE_NAME
  value: conveyor-{{ $name }}
- name: OTEL_SERVICE_NAME
  value: conveyor-{{ $name }}
{{- with $root.Values.telemetry.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if has $name (list "ingest" "trainer" "registry" "monitor" "audit") }}
{{- include "conveyor.databaseEnv" $root }}
{{- end }}
{{- if eq $name "audit" }}
{{- include "conveyor.auditEnv" $root }}
{{- end }}
{{- if $root.Values.objectStore.enabled }}
{{- include "conveyor.objectStoreEnv" $root }}
{{- end }}
{{- $managed := list "CONVEYOR_HOST" "CONVEYOR_PORT" "CONVEYOR_DATA_DIR" "CONVEYOR_KAFKA__BOOTSTRAP_SERVERS" "CONVEYOR_KAFKA__TOPIC_PREFIX" "CONVEYOR_DATABASE_URL" "CONVEYOR_MODE" "CONVEYOR_SIGNING_KEY" }}
{{- range $key, $value := merge (deepCopy ($svc.env | default dict)) ($root.Values.env | default dict) }}
{{- if has $key $managed }}
{{- fail (printf "env %s is set by the chart from its own values (services.<name>.port, kafka.*, externalKafka.*, database.*, services.audit.*): set those instead" $key) }}
{{- end }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{- define "conveyor.databaseEnv" -}}
{{- $db := .Values.database }}
{{- if and $db.url $db.existingSecret }}
{{- fail "database.url and database.existingSecret are both set: keep one (the Secret, for a URL with a password)" }}
{{- end }}
{{- if $db.existingSecret }}
- name: CONVEYOR_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $db.existingSecret | quote }}, key: {{ $db.existingSecretKey | quote }}}
{{- else if $db.url }}
- name: CONVEYOR_DATABASE_URL
  value: {{ $db.url | quote }}
{{- end }}
{{- end }}

{{- define "conveyor.auditEnv" -}}
{{- $audit := .Values.services.audit }}
{{- if not (has $audit.mode (list "dev" "production")) }}
{{- fail (printf "services.audit.mode is %q: use dev or production" $audit.mode) }}
{{- end }}
- name: CONVEYOR_MODE
  value: {{ $audit.mode | quote }}
{{- if $audit.signingKey.existingSecret }}
- name: CONVEYOR_SIGNING_KEY
  valueFrom:
    secretKeyRef: {name: {{ $audit.signingKey.existingSecret | quote }}, key: {{ $audit.signingKey.key | quote }}}
{{- else if eq $audit.mode "production" }}
{{- fail "services.audit.mode is production but services.audit.signingKey.existingSecret is empty: the ledger refuses to start without CONVEYOR_SIGNING_KEY; name a Secret holding the key (conveyor audit keygen), or use mode dev" }}
{{- end }}
{{- end }}

{{- define "conveyor.objectStoreEnv" -}}
{{- $store := .Values.objectStore }}
- name: CONVEYOR_ARTIFACT_ROOT
  value: {{ required "objectStore.url is empty: give the artifact root, e.g. s3://conveyor-artifacts/prod, or set objectStore.enabled=false" $store.url | quote }}
{{- with $store.endpoint }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with $store.region }}
- name: AWS_DEFAULT_REGION
  value: {{ . | quote }}
{{- end }}
{{- with $store.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $store.accessKeyIdKey | quote }}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ . | quote }}, key: {{ $store.secretAccessKeyKey | quote }}}
{{- end }}
{{- end }}
