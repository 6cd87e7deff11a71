package metricname

import (
	"regexp"
	"strings"
	"testing"
)

var validName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// TestNamesFollowPrometheusConventions checks the rules Prometheus's naming
// guide sets: our prefix, _total only (and always) on counters, base units.
func TestNamesFollowPrometheusConventions(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range All() {
		if !validName.MatchString(m.Name) {
			t.Errorf("%s: invalid metric name", m.Name)
		}
		if seen[m.Name] {
			t.Errorf("%s defined twice", m.Name)
		}
		seen[m.Name] = true
		if m.Help == "" {
			t.Errorf("%s has no help", m.Name)
		}
		if !m.External && !strings.HasPrefix(m.Name, Namespace+"_") {
			t.Errorf("%s lacks the %s_ prefix", m.Name, Namespace)
		}
		isCounter := m.Type == "counter"
		if isCounter != strings.HasSuffix(m.Name, "_total") {
			t.Errorf("%s: type %s; _total is for counters only, and every counter needs it", m.Name, m.Type)
		}
		for _, bad := range []string{"_milliseconds", "_ms", "_minutes", "_hours", "_kilobytes", "_megabytes", "_percent"} {
			if strings.Contains(m.Name, bad) {
				t.Errorf("%s: use base units (seconds, bytes, ratio)", m.Name)
			}
		}
		for _, l := range m.Labels {
			if !validName.MatchString(l) || strings.HasPrefix(l, "__") {
				t.Errorf("%s: invalid label %q", m.Name, l)
			}
		}
	}
}

func TestKnownCoversHistogramSeries(t *testing.T) {
	if !Known(CollectorSinkLatency.Name+"_bucket") || !Known(NodeEvents.Name) {
		t.Fatal("known names not recognised")
	}
	if Known(NodeEvents.Name+"_bucket") || Known("plowline_nope") {
		t.Fatal("unknown names accepted")
	}
}
