package promqlcheck

import (
	"strings"

	"github.com/plowline/plowline/metricname"
)

// TargetLabels are labels Prometheus attaches to every scraped series:
// job and instance, and the environment label the dashboards filter on.
var TargetLabels = []string{"job", "instance", "environment"}

// Plowline is a LabelsOf over the metrics metricname defines; a histogram's
// _bucket series carry le besides the histogram's labels.
func Plowline(metric string) ([]string, bool) {
	if !metricname.Known(metric) {
		return nil, false
	}
	for _, i := range metricname.All() {
		switch {
		case i.Name == metric:
			return i.Labels, true
		case metric == i.Name+"_bucket":
			return append(append([]string(nil), i.Labels...), "le"), true
		case strings.HasPrefix(metric, i.Name+"_"):
			if metric == i.Name+"_sum" || metric == i.Name+"_count" {
				return i.Labels, true
			}
		}
	}
	return nil, true
}
