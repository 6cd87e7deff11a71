package grafana

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cloudwatch"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/plowline/plowline/alerts"
	"github.com/plowline/plowline/dashboards/promqlcheck"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/testkit"
)

// readCommitted re-reads every committed dashboard with the SDK's strict
// decoder, the way a tool importing our JSON would.
func readCommitted(t *testing.T) map[string]dashboard.Dashboard {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	files, err := filepath.Glob(filepath.Join(testkit.RepoRoot(t), "dashboards", "grafana", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("want 4 committed dashboards, found %d: %v", len(files), files)
	}
	out := map[string]dashboard.Dashboard{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The strict decoder refuses unknown fields, wrong types and
		// missing required fields; but (SDK v0.0.22) it drops every panel
		// whose own strict decode "failed" with an empty error list, so
		// the content checks use the ordinary decoder.
		var strict dashboard.Dashboard
		if err := strictError(strict.UnmarshalJSONStrict(raw)); err != nil {
			t.Fatalf("%s does not re-read cleanly with the SDK: %v", filepath.Base(f), err)
		}
		var d dashboard.Dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// strictError normalises the SDK's strict decoder result: it returns its
// error list as a cog.BuildErrors even when the list is empty, which is a
// non-nil error interface holding no errors.
func strictError(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

// panels flattens top-level panels and panels inside rows; rows are
// returned separately for the id check.
func panels(d dashboard.Dashboard) (ps []dashboard.Panel, rowIDs []uint32) {
	for _, p := range d.Panels {
		if p.Panel != nil {
			ps = append(ps, *p.Panel)
		}
		if p.RowPanel != nil {
			rowIDs = append(rowIDs, p.RowPanel.Id)
			ps = append(ps, p.RowPanel.Panels...)
		}
	}
	return ps, rowIDs
}

type target struct {
	refID, dsType, promExpr string
	cw                      *cloudwatch.MetricsQuery
}

func decodeTarget(t *testing.T, where string, q variants.Dataquery) target {
	t.Helper()
	switch v := q.(type) {
	case *prometheus.Dataquery:
		return decodeTarget(t, where, *v)
	case prometheus.Dataquery:
		tg := target{promExpr: v.Expr}
		if v.RefId != nil {
			tg.refID = *v.RefId
		}
		if v.Datasource != nil && v.Datasource.Type != nil {
			tg.dsType = *v.Datasource.Type
		}
		return tg
	case *cloudwatch.Request:
		if v.MetricsQuery == nil {
			t.Fatalf("%s: CloudWatch target is not a metrics query", where)
		}
		tg := target{cw: v.MetricsQuery}
		if v.MetricsQuery.RefId != nil {
			tg.refID = *v.MetricsQuery.RefId
		}
		if v.MetricsQuery.Datasource != nil && v.MetricsQuery.Datasource.Type != nil {
			tg.dsType = *v.MetricsQuery.Datasource.Type
		}
		return tg
	}
	t.Fatalf("%s: target of unexpected type %T (the SDK did not recognise its datasource)", where, q)
	return target{}
}

// TestCommittedDashboardsInvariants: every panel has a datasource, a unique
// id and a refId per target; targets use their panel's datasource type;
// PromQL names only metrics plowline exposes or queries; CloudWatch targets
// name only resources of the topology.
func TestCommittedDashboardsInvariants(t *testing.T) {
	topo := config.GitLabTopology()
	resources := map[string]bool{}
	for _, s := range topo.Streams {
		resources[s.Name] = true
	}
	for _, s := range topo.DeliveryStreams {
		resources[s.Name] = true
	}
	for _, f := range topo.Functions {
		resources[f] = true
	}
	for _, lb := range topo.LoadBalancers {
		resources[lb] = true
	}
	promQueries := 0
	for file, d := range readCommitted(t) {
		if d.Uid == nil || *d.Uid+".json" != file {
			t.Errorf("%s: uid %v does not match the file name", file, d.Uid)
		}
		ps, rowIDs := panels(d)
		if len(ps) == 0 {
			t.Errorf("%s: no panels", file)
		}
		ids := map[uint32]bool{}
		for _, id := range rowIDs {
			if ids[id] {
				t.Errorf("%s: row id %d used twice", file, id)
			}
			ids[id] = true
		}
		for _, p := range ps {
			where := file + ": panel " + deref(p.Title)
			if p.Id == nil || *p.Id == 0 {
				t.Errorf("%s: no id", where)
			} else if ids[*p.Id] {
				t.Errorf("%s: id %d used twice", where, *p.Id)
			} else {
				ids[*p.Id] = true
			}
			if p.Datasource == nil || p.Datasource.Type == nil || p.Datasource.Uid == nil || *p.Datasource.Uid == "" {
				t.Errorf("%s: no datasource", where)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no targets", where)
			}
			refs := map[string]bool{}
			for _, q := range p.Targets {
				tg := decodeTarget(t, where, q)
				if tg.refID == "" || refs[tg.refID] {
					t.Errorf("%s: refId %q missing or repeated", where, tg.refID)
				}
				refs[tg.refID] = true
				if tg.dsType != *p.Datasource.Type {
					t.Errorf("%s: target %s on datasource %q, panel on %q", where, tg.refID, tg.dsType, *p.Datasource.Type)
				}
				if tg.cw != nil {
					if tg.cw.Namespace == "" || tg.cw.MetricName == nil || *tg.cw.MetricName == "" || tg.cw.Statistic == nil {
						t.Errorf("%s: CloudWatch target %s incomplete", where, tg.refID)
					}
					if tg.cw.Namespace == metricname.Namespace && !metricname.Known(*tg.cw.MetricName) {
						t.Errorf("%s: EMF metric %s is not defined in metricname", where, *tg.cw.MetricName)
					}
					if tg.cw.Dimensions != nil {
						for dim, v := range *tg.cw.Dimensions {
							switch {
							case v.String == nil:
								t.Errorf("%s: CloudWatch dimension %s has no value", where, dim)
							case dim == metricname.LabelResult:
								if !map[string]bool{"good": true, "bad": true, "ok": true, "processing_failed": true}[*v.String] {
									t.Errorf("%s: result=%s is no result the pipeline writes", where, *v.String)
								}
							case !resources[*v.String]:
								t.Errorf("%s: CloudWatch dimension %s=%s is not a topology resource", where, dim, *v.String)
							}
						}
					}
					continue
				}
				promQueries++
				names, err := promqlcheck.MetricNames(tg.promExpr)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if len(names) == 0 {
					t.Errorf("%s: query %q selects no metric", where, tg.promExpr)
				}
				for _, n := range names {
					if !metricname.Known(n) {
						t.Errorf("%s: query %q uses %s, which metricname does not define", where, tg.promExpr, n)
					}
				}
				if err := promqlcheck.Check(tg.promExpr, promqlcheck.Plowline, promqlcheck.TargetLabels...); err != nil {
					t.Errorf("%s: %v", where, err)
				}
				if !strings.Contains(tg.promExpr, `environment=~"$environment"`) {
					t.Errorf("%s: query %q ignores the environment variable", where, tg.promExpr)
				}
			}
		}
	}
	if promQueries < 30 {
		t.Errorf("only %d PromQL queries checked; the dashboards lost panels", promQueries)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<untitled>"
	}
	return *s
}

// TestStageDetailCoversTopology: every stream, delivery stream and function
// of a topology appears in the stage-detail dashboard, so a new stream in
// the exporter's configuration shows up without touching the builder.
func TestStageDetailCoversTopology(t *testing.T) {
	topo := config.Topology{
		Region:          "eu-west-1",
		Streams:         []config.Stream{{Name: "s-one", RetentionHours: 24}, {Name: "s-two", RetentionHours: 24}},
		DeliveryStreams: []config.DeliveryStream{{Name: "d-one", Prefix: "p/"}},
		Functions:       []string{"f-collector", "f-enricher"},
		LoadBalancers:   []string{"net/lb/1"},
		GoodTable:       "good", BadTable: "bad",
	}
	ds, err := Dashboards(Options{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	var stage *dashboard.Dashboard
	for i := range ds {
		if ds[i].UID == alerts.DashboardStages {
			stage = &ds[i].Model
		}
	}
	if stage == nil {
		t.Fatal("no stage-detail dashboard")
	}
	seen := map[string]map[string]bool{} // resource -> metric names
	ps, _ := panels(*stage)
	for _, p := range ps {
		for _, q := range p.Targets {
			r, ok := q.(cloudwatch.MetricsQueryOrLogsQueryOrAnnotationQuery)
			if !ok || r.MetricsQuery == nil {
				t.Fatalf("stage target of type %T", q)
			}
			for _, v := range *r.MetricsQuery.Dimensions {
				if seen[*v.String] == nil {
					seen[*v.String] = map[string]bool{}
				}
				seen[*v.String][*r.MetricsQuery.MetricName] = true
			}
		}
	}
	want := map[string][]string{
		"s-one":       {"IncomingRecords", "GetRecords.IteratorAgeMilliseconds"},
		"s-two":       {"IncomingRecords", "GetRecords.IteratorAgeMilliseconds"},
		"d-one":       {"IncomingRecords", "DeliveryToS3.Records", "DeliveryToS3.DataFreshness"},
		"f-collector": {"Invocations", "Errors", "Throttles", "Duration"},
		"f-enricher":  {"Invocations", "Errors", "Throttles", "Duration"},
		"net/lb/1":    {"NewFlowCount"},
	}
	for res, metrics := range want {
		for _, m := range metrics {
			if !seen[res][m] {
				t.Errorf("stage detail lacks %s for %s", m, res)
			}
		}
	}
}

// TestRunbookLinksPointAtAlerts: every runbook a panel links to is an alert
// that exists, so renaming an alert cannot leave a dead link.
func TestRunbookLinksPointAtAlerts(t *testing.T) {
	o := Options{}.withDefaults()
	valid := map[string]bool{}
	for _, n := range alerts.Names(o.Alerts) {
		valid[o.Alerts.RunbookURL(n)] = true
	}
	ds, err := Dashboards(o)
	if err != nil {
		t.Fatal(err)
	}
	linked := 0
	for _, d := range ds {
		ps, _ := panels(d.Model)
		for _, p := range ps {
			for _, l := range p.Links {
				if strings.HasPrefix(l.Title, "Runbook: ") {
					linked++
					if l.Url == nil || !valid[*l.Url] {
						t.Errorf("%s / %s links to %s, not an alert's runbook", d.UID, deref(p.Title), deref(l.Url))
					}
				}
			}
		}
	}
	if linked < 10 {
		t.Errorf("only %d runbook links on panels", linked)
	}
}

// TestFunnelFollowsPipelineOrder: one bar per node, in the order given.
func TestFunnelFollowsPipelineOrder(t *testing.T) {
	nodes := []string{"trackers:emitted", "collector", "s3:good", "warehouse:good"}
	ds, err := Dashboards(Options{Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.UID != alerts.DashboardOverview {
			continue
		}
		ps, _ := panels(d.Model)
		for _, p := range ps {
			if deref(p.Title) != "Events per stage" {
				continue
			}
			var got []string
			for _, q := range p.Targets {
				pq := q.(prometheus.Dataquery)
				got = append(got, deref(pq.LegendFormat))
				if !strings.Contains(pq.Expr, `node="`+deref(pq.LegendFormat)+`"`) {
					t.Errorf("bar %q queries %q", deref(pq.LegendFormat), pq.Expr)
				}
			}
			if strings.Join(got, ",") != strings.Join(nodes, ",") {
				t.Errorf("funnel order %v, want %v", got, nodes)
			}
			return
		}
	}
	t.Fatal("no funnel panel on the overview")
}
