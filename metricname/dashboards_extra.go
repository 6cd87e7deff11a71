package metricname

// Series Prometheus itself produces that the dashboards query.
var (
	// PrometheusAlerts is Prometheus's synthetic ALERTS series: the
	// overview lists plowline's pending and firing alerts from it.
	PrometheusAlerts = define(Info{Name: "ALERTS", Type: "gauge", External: true,
		Help:   "Prometheus's synthetic series of active alerts: 1 while an alert is pending or firing, labelled with the alert's labels.",
		Labels: []string{"alertname", "alertstate", "severity", "component"}})
)
