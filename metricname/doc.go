// Package metricname defines, once, every Prometheus metric and label name
// that plowline exposes or queries. The pipeline stages and the exporter
// register metrics under these names, and the dashboard and alert
// generators build their queries from them, so a renamed metric cannot
// leave a dashboard panel or an alert rule behind (a test in alerts/ parses
// every query and checks each name against All).
//
// It is a leaf package: both pipeline/ and exporter/ import it without
// importing each other.
package metricname

// Namespace prefixes every metric plowline itself exposes.
const Namespace = "plowline"

// Info describes one metric name for documentation and cross-checks.
type Info struct {
	Name string
	Type string // counter, gauge, histogram, summary
	Help string
	// Labels are the label names the metric carries.
	Labels []string
	// External marks metrics plowline queries but does not expose
	// (e.g. the GitLab application's own tracker counters).
	External bool
}

var registry []Info

// define records a metric's description and returns its name, so the
// constants below double as documentation entries.
func define(i Info) Info {
	registry = append(registry, i)
	return i
}

// All returns every metric name plowline exposes or queries.
func All() []Info {
	out := make([]Info, len(registry))
	copy(out, registry)
	return out
}

// Known reports whether name (or a histogram's _bucket/_sum/_count series
// of it) is defined.
func Known(name string) bool {
	for _, i := range registry {
		if i.Name == name {
			return true
		}
		if i.Type == "histogram" || i.Type == "summary" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				if name == i.Name+s {
					return true
				}
			}
		}
	}
	return false
}
