{{/* The chart's name. */}}
{{- define "ecs-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the release name when it already contains the chart's name. */}}
{{- define "ecs-bridge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The scheduler's name (objects and the leader election lease). */}}
{{- define "ecs-bridge.schedulerFullname" -}}
{{- printf "%s-scheduler" (include "ecs-bridge.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Recommended labels of every object. */}}
{{- define "ecs-bridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "ecs-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ecs-bridge
{{- end -}}

{{/* The operator's selector labels. */}}
{{- define "ecs-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecs-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* The scheduler's selector labels. */}}
{{- define "ecs-bridge.schedulerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "ecs-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: scheduler
{{- end -}}

{{/* The operator's ServiceAccount. */}}
{{- define "ecs-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ecs-bridge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
