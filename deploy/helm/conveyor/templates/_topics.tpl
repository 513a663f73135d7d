{{/* Every topic of docs/topics.md (base names; kafka.topicPrefix is prepended). A test compares this list
with libs/kernel's topics.py, so a topic added there fails the chart's test until it is added here. */}}
{{- define "conveyor.topics" -}}
conveyor.datasets,conveyor.models,conveyor.registry,conveyor.approvals,conveyor.deployments,conveyor.predictions,conveyor.monitoring,conveyor.commands.retrain,conveyor.feedback,conveyor.deadletter,conveyor.audit.checkpoints,conveyor.audit.reports,conveyor.consent,conveyor.openlineage
{{- end }}

{{/* A topic's config as the kernel creates it (KafkaSettings.topic_config, topics.RETENTION): lifecycle
topics and checkpoints kept forever, consent compacted, predictions bounded by time and size, lineage a
week, dead letters a month. Call with
(dict "root" $ "base" "conveyor.registry"); a test renders every topic and compares with the kernel. */}}
{{- define "conveyor.topicConfig" -}}
{{- $k := .root.Values.kafka }}
{{- $config := dict "cleanup.policy" "delete" }}
{{- if eq .base "conveyor.predictions" }}
{{- $_ := set $config "retention.ms" (printf "%d" (mul (int64 $k.predictionsRetentionHours) 3600000)) }}
{{- $_ := set $config "retention.bytes" (printf "%d" (int64 $k.predictionsRetentionBytes)) }}
{{- else if eq .base "conveyor.deadletter" }}
{{- $_ := set $config "retention.ms" "2592000000" }}
{{- else if eq .base "conveyor.consent" }}
{{- $_ := set $config "cleanup.policy" "compact" }}
{{- else if eq .base "conveyor.openlineage" }}
{{- $_ := set $config "retention.ms" "604800000" }}
{{- else }}
{{- $_ := set $config "retention.ms" "-1" }}
{{- $_ := set $config "retention.bytes" "-1" }}
{{- end }}
{{- $_ := set $config "min.insync.replicas" (printf "%d" (max 1 (min 2 (sub (int64 $k.replicationFactor) 1)))) }}
{{- toYaml (merge (dict) (index .root.Values.strimzi.topics.config .base | default dict) $config) }}
{{- end }}
