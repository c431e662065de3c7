{{/* The chart name, or nameOverride. */}}
{{- define "ringtrain.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* `<release>-<chart>`, or just the release name when it already contains the chart name. */}}
{{- define "ringtrain.fullname" -}}
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

{{- define "ringtrain.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object. Call with (dict "root" $ "component" "operator").
Run pods carry app.kubernetes.io/instance=<run name> and no component label, so selectors below, which always
name a component, never match them.
*/}}
{{- define "ringtrain.labels" -}}
helm.sh/chart: {{ include "ringtrain.chart" .root }}
{{ include "ringtrain.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: ringtrain
{{- end }}

{{- define "ringtrain.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ringtrain.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ringtrain.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "ringtrain.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (printf "%s-operator" (include "ringtrain.fullname" .)) .Values.operator.serviceAccount.name }}
{{- else }}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where the dataset service finds the object store. */}}
{{- define "ringtrain.s3Endpoint" -}}
{{- if .Values.minio.enabled }}
{{- printf "http://%s-minio.%s.svc:9000" (include "ringtrain.fullname" .) .Release.Namespace }}
{{- else }}
{{- required "s3.endpoint is required when minio.enabled is false (the object store the dataset service reads)" .Values.s3.endpoint }}
{{- end }}
{{- end }}

{{/* The Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for that store. */}}
{{- define "ringtrain.s3Secret" -}}
{{- if .Values.minio.enabled }}
{{- default (printf "%s-minio" (include "ringtrain.fullname" .)) .Values.minio.auth.existingSecret }}
{{- else }}
{{- required "s3.credentialsSecret is required when minio.enabled is false (a Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)" .Values.s3.credentialsSecret }}
{{- end }}
{{- end }}

{{/*
Scheduling of one component: its own nodeSelector / tolerations / affinity, else the chart-wide ones.
Call with (dict "root" $ "values" .Values.operator).
*/}}
{{- define "ringtrain.scheduling" -}}
{{- with (default .root.Values.nodeSelector .values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default .root.Values.tolerations .values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default .root.Values.affinity .values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The restricted Pod Security Standard, as the operator's run pods use it. */}}
{{- define "ringtrain.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "ringtrain.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}
