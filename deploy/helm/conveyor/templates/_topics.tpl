{{/* Every topic of docs/topics.md (base names; kafka.topicPrefix is prepended). A test compares this list
with libs/kernel's topics.py, so a topic added there fails the chart's test until it is added here. */}}
{{- define "conveyor.topics" -}}
conveyor.datasets,conveyor.models,conveyor.registry,conveyor.approvals,conveyor.deployments,conveyor.predictions,conveyor.monitoring,conveyor.commands.retrain,conveyor.feedback,conveyor.deadletter,conveyor.audit.checkpoints,conveyor.audit.reports
{{- end }}
