{{/* The chart's name, or nameOverride. */}}
{{- define "asr-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: "asr-operator" for a release named so, else "<release>-asr-operator". */}}
{{- define "asr-operator.fullname" -}}
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

{{- define "asr-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "asr-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "asr-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "asr-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: asr-operator
{{- end }}

{{- define "asr-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "asr-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "asr-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The rules on the operator's own resources, shared by the ClusterRole and the Roles. */}}
{{- define "asr-operator.resourceRules" -}}
# The three resources it reconciles. `patch` also adds and removes the finalizer.
- apiGroups: [asr-operator.io]
  resources: [protectedvms, recoveryplans, siterecoveryvaults]
  verbs: [get, list, watch, patch]
- apiGroups: [asr-operator.io]
  resources: [protectedvms/status, recoveryplans/status, siterecoveryvaults/status]
  verbs: [get, patch]
- apiGroups: [asr-operator.io]
  resources: [protectedvms/finalizers, recoveryplans/finalizers, siterecoveryvaults/finalizers]
  verbs: [update]
# Secrets named by SiteRecoveryVaults: read one by one, never listed or watched.
- apiGroups: [""]
  resources: [secrets]
  {{- with .Values.rbac.secretNames }}
  resourceNames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* Cluster-scoped reads kopf needs to find namespaces and CRDs. */}}
{{- define "asr-operator.scanRules" -}}
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
{{- end }}
