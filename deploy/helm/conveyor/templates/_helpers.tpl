{{/* Names, labels and the settings every service shares. */}}

{{- define "conveyor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "conveyor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The resource name of one service: <fullname>-<service>. Call with (dict "root" $ "name" "serving"). */}}
{{- define "conveyor.component" -}}
{{- printf "%s-%s" (include "conveyor.fullname" .root | trunc 50 | trimSuffix "-") .name }}
{{- end }}

{{- define "conveyor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "conveyor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: conveyor
{{- end }}

{{/* Call with (dict "root" $ "name" "serving"). */}}
{{- define "conveyor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "conveyor.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "conveyor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "conveyor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "conveyor.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "conveyor.strimziCluster" -}}
{{- default (printf "%s-kafka" (include "conveyor.fullname" .)) .Values.strimzi.clusterName | trunc 50 | trimSuffix "-" }}
{{- end }}

{{/* CONVEYOR_KAFKA__BOOTSTRAP_SERVERS, after checking that exactly one Kafka is configured. */}}
{{- define "conveyor.bootstrapServers" -}}
{{- if and .Values.strimzi.enabled .Values.externalKafka.enabled }}
{{- fail "strimzi.enabled and externalKafka.enabled are both true: set externalKafka.enabled=false to use the Strimzi cluster, or strimzi.enabled=false to use your own Kafka" }}
{{- else if .Values.strimzi.enabled }}
{{- printf "%s-kafka-bootstrap:9092" (include "conveyor.strimziCluster" .) }}
{{- else if .Values.externalKafka.enabled }}
{{- required "externalKafka.bootstrapServers is empty: give host:port[,host:port] of your Kafka, or set strimzi.enabled=true" .Values.externalKafka.bootstrapServers }}
{{- else }}
{{- fail "no Kafka: set externalKafka.enabled=true with externalKafka.bootstrapServers, or strimzi.enabled=true" }}
{{- end }}
{{- end }}

{{/* A Kubernetes name for a Kafka topic (dots and underscores are not allowed everywhere). */}}
{{- define "conveyor.topicResourceName" -}}
{{- regexReplaceAll "[^a-z0-9-]" (lower .) "-" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The services the chart runs, in the platform's order (console last, only when enabled). */}}
{{- define "conveyor.enabledServices" -}}
{{- $enabled := list }}
{{- range $name := list "ingest" "trainer" "registry" "serving" "monitor" "audit" "console" }}
{{- $svc := index $.Values.services $name }}
{{- if $svc.enabled }}{{ $enabled = append $enabled $name }}{{ end }}
{{- end }}
{{- join "," $enabled }}
{{- end }}
