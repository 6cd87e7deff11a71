// Package promqlcheck parses the PromQL that dashboards and alert rules
// carry and reports the metric names it selects, so tests can prove every
// query names a metric plowline really exposes (metricname.Known).
package promqlcheck

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// grafanaVariables are replaced before parsing: Grafana expands them in
// dashboard queries, PromQL itself does not know them.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "1h",
	"${__range}", "1h",
	"$environment", ".*",
	"${environment}", ".*",
)

// MetricNames parses query (PromQL, possibly with Grafana's variables) and
// returns the metric names its selectors name, sorted and deduplicated. A
// selector that does not name its metric with an equality matcher is an
// error: its metrics could not be checked.
func MetricNames(query string) ([]string, error) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVariables.Replace(query))
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", query, err)
	}
	seen := map[string]bool{}
	var walkErr error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			walkErr = fmt.Errorf("selector %s in %q does not name its metric", vs, query)
			return nil
		}
		seen[name] = true
		return nil
	})
	if walkErr != nil {
		return nil, walkErr
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}
