// Package promqlcheck parses the PromQL that dashboards and alert rules
// carry and reports the metric names it selects, so tests can prove every
// query names a metric plowline really exposes (metricname.Known).
package promqlcheck

import (
	"errors"
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

// LabelsOf returns the label names a metric carries, and whether the
// metric is known at all.
type LabelsOf func(metric string) (labels []string, known bool)

// Check parses query and verifies, against labelsOf, that every selector
// names a known metric, that every label it matches on is one the metric
// carries, and that every label an aggregation groups by or a binary
// operation matches on is carried by some metric beneath it. always are
// labels every series may have (target labels such as job, instance,
// environment). A wrong label does not fail in Prometheus — it silently
// selects or groups nothing — which is why it is checked here.
func Check(query string, labelsOf LabelsOf, always ...string) error {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVariables.Replace(query))
	if err != nil {
		return fmt.Errorf("parsing %q: %w", query, err)
	}
	var errs []error
	base := map[string]bool{labels.MetricName: true}
	for _, l := range always {
		base[l] = true
	}
	// carried collects the labels of every selector under n.
	carried := func(n parser.Node) map[string]bool {
		out := map[string]bool{}
		for k := range base {
			out[k] = true
		}
		parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				ls, _ := labelsOf(selectorName(vs))
				for _, l := range ls {
					out[l] = true
				}
			}
			return nil
		})
		return out
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch x := n.(type) {
		case *parser.VectorSelector:
			name := selectorName(x)
			ls, known := labelsOf(name)
			if !known {
				errs = append(errs, fmt.Errorf("metric %q is not defined", name))
				return nil
			}
			have := map[string]bool{}
			for _, l := range ls {
				have[l] = true
			}
			for _, m := range x.LabelMatchers {
				if !base[m.Name] && !have[m.Name] {
					errs = append(errs, fmt.Errorf("%s has no label %q (labels: %s)", name, m.Name, strings.Join(ls, ", ")))
				}
			}
		case *parser.AggregateExpr:
			if x.Without {
				return nil
			}
			have := carried(x.Expr)
			for _, g := range x.Grouping {
				if !have[g] {
					errs = append(errs, fmt.Errorf("%s by (%s): no metric beneath carries %q", x.Op, strings.Join(x.Grouping, ", "), g))
				}
			}
		case *parser.BinaryExpr:
			if x.VectorMatching == nil || !x.VectorMatching.On {
				return nil
			}
			lhs, rhs := carried(x.LHS), carried(x.RHS)
			for _, l := range x.VectorMatching.MatchingLabels {
				if !lhs[l] || !rhs[l] {
					errs = append(errs, fmt.Errorf("on (%s): %q is not carried by both sides", strings.Join(x.VectorMatching.MatchingLabels, ", "), l))
				}
			}
		}
		return nil
	})
	if len(errs) > 0 {
		return fmt.Errorf("%q: %w", query, errors.Join(errs...))
	}
	return nil
}

func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}
