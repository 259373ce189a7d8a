{{/* Names. The release name alone when it already says "egressway" (the usual `helm install egressway`). */}}
{{- define "egressway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "egressway.controller" -}}{{ include "egressway.fullname" . }}-controller{{- end -}}
{{- define "egressway.waypointRole" -}}{{ include "egressway.fullname" . }}-waypoint{{- end -}}
{{- define "egressway.waypointSecretsRole" -}}{{ include "egressway.fullname" . }}-waypoint-secrets{{- end -}}
{{- define "egressway.classParams" -}}{{ include "egressway.fullname" . }}-gatewayclass{{- end -}}

{{- define "egressway.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "egressway.waypointImage" -}}
{{- .Values.waypoint.image | default (include "egressway.image" .) -}}
{{- end -}}

{{- define "egressway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "egressway.controllerSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}
