package alerts

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/plowline/plowline/exporter/report"
	mn "github.com/plowline/plowline/metricname"
)

// Runbook is the alert-specific part of a runbook. The rest — the
// reconcile command, how to read it, diagnosis per stage, the escalation
// contacts — is shared, and generated with the same metric names and
// topology the rules use.
type Runbook struct {
	// Meaning says what firing means, in on-call terms.
	Meaning string
	// Impact says what is lost or at risk, and how fast.
	Impact string
	// FirstSteps are the first things to do, in order (markdown list items).
	FirstSteps []string
	// StartAt names the stages (keys of the stage diagnosis) most likely
	// at fault, most likely first; the others follow in pipeline order.
	StartAt []string
	// Mitigation is markdown: what stops the bleeding, then what fixes it.
	Mitigation []string
	// Escalation says when and to whom beyond the on-call engineer.
	Escalation []string
}

// Stage keys, in pipeline order.
const (
	StageTrackers  = "trackers"
	StageCollector = "collector"
	StageStreams   = "streams"
	StageEnricher  = "enricher"
	StageFirehose  = "firehose"
	StageS3        = "s3"
	StageWarehouse = "warehouse"
	StageExporter  = "exporter"
)

var stageOrder = []string{StageTrackers, StageCollector, StageStreams, StageEnricher, StageFirehose, StageS3, StageWarehouse, StageExporter}

type stageText struct {
	Key, Title string
	Body       string
}

// stages renders the shared diagnosis, one section per stage, with the
// resource names of the topology.
func stages(o Options) map[string]stageText {
	t := o.Topology
	names := func(f func(int) string, n int) string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, "`"+f(i)+"`")
		}
		return strings.Join(out, ", ")
	}
	streams := names(func(i int) string { return t.Streams[i].Name }, len(t.Streams))
	deliveries := names(func(i int) string { return t.DeliveryStreams[i].Name }, len(t.DeliveryStreams))
	functions := names(func(i int) string { return t.Functions[i] }, len(t.Functions))
	firstStream, firstDelivery, goodPrefix := "snowplow-raw-good", "snowplow-enriched-good", "output/"
	if len(t.Streams) > 0 {
		firstStream = t.Streams[0].Name
	}
	if len(t.DeliveryStreams) > 0 {
		firstDelivery, goodPrefix = t.DeliveryStreams[0].Name, t.DeliveryStreams[0].Prefix
	}
	fn := func(role string) string {
		for _, f := range t.Functions {
			if strings.Contains(f, role) {
				return f
			}
		}
		return "snowplow-" + role
	}
	m := map[string]stageText{
		StageTrackers: {Title: "Trackers (the GitLab application)", Body: fmt.Sprintf(`- Grafana **Trackers → collector**: emitted, successful and failed tracker events and the success ratio.
- PromQL: `+"`sum(rate(%[1]s[5m])) / (sum(rate(%[1]s[5m])) + sum(rate(%[2]s[5m])))`"+` — below 0.95 the app cannot reach the collector; compare `+"`sum(rate(%[3]s[5m]))`"+` (emitted) with `+"`sum(rate(%[4]s[5m]))`"+` (what the collector acknowledged).
- Failed sends with a healthy collector point at the network path from the app (DNS, TLS certificate, egress, the load balancer's security group) or at a tracker release: check the latest GitLab deploy.
- What the collector acknowledged, and whether it is up:`+local("Locally, what the collector acknowledged and whether it is up", "/health", mn.CollectorEvents, mn.CollectorRequests),
			mn.GitLabSnowplowSuccessfulEvents.Name, mn.GitLabSnowplowFailedEvents.Name, mn.GitLabSnowplowEvents.Name, mn.CollectorEvents.Name)},
		StageCollector: {Title: "Collector", Body: fmt.Sprintf(`- Requests by status: `+"`sum by (code) (rate(%[1]s[5m]))`"+`. 503s mean the sink buffer is full (Kinesis refusing writes); 4xx spikes mean malformed tracker requests.
- Sink health and buffer: `+"`%[2]s`"+` (0 = Kinesis refuses writes), `+"`%[3]s / %[4]s`"+`.
- Bad rows the collector emits (oversized payloads): `+"`sum by (type) (rate(%[5]s[5m]))`"+`.
- CloudWatch (dashboard **SnowPlow**): load balancer NewFlowCount / RequestCount and 5XX counts; Lambda `+"`Invocations`, `Errors`, `Throttles`"+` of `+"`%[6]s`"+`; logs, *On AWS*: `+"`aws logs tail /aws/lambda/%[6]s --since 1h`"+`.`+local("Locally", "/health", mn.CollectorRequests, mn.CollectorEvents, mn.CollectorSinkHealthy, mn.CollectorSinkFailures),
			mn.CollectorRequests.Name, mn.CollectorSinkHealthy.Name, mn.CollectorBufferBytes.Name, mn.CollectorBufferLimitBytes.Name, mn.CollectorBadRows.Name, fn("collector"))},
		StageStreams: {Title: "Kinesis streams", Body: fmt.Sprintf(`- Streams: %[1]s.
- Exporter gauges: `+"`%[2]s`"+` against `+"`%[3]s`"+`, and `+"`%[4]s`"+` per stream.
- CloudWatch `+"`AWS/Kinesis`"+`: `+"`IncomingRecords`"+` (is data arriving?), `+"`GetRecords.IteratorAgeMilliseconds`"+` (is the consumer keeping up?), `+"`WriteProvisionedThroughputExceeded`"+` / `+"`ReadProvisionedThroughputExceeded`"+` (are shards saturated?).
- *On AWS*: `+"`aws kinesis describe-stream-summary --stream-name %[5]s`"+` shows open shards and retention; a stream whose retention is below 48 h loses data sooner than the alerts assume.`,
			streams, mn.KinesisIteratorAge.Name, mn.KinesisRetention.Name, mn.KinesisIncomingRecords.Name, firstStream)},
		StageEnricher: {Title: "Enricher", Body: fmt.Sprintf(`- Pipeline Lambda functions: %[4]s.
- Out by result: `+"`sum by (result) (rate(%[1]s[5m]))`"+`; bad rows by type: `+"`sum by (type) (rate(%[2]s[5m]))`"+`. A jump in `+"`schema_violations`"+` follows a schema or tracker release; `+"`enrichment_failures`"+` follow an enrichment's configuration or an unreachable lookup.
- Lambda `+"`%[3]s`"+`: `+"`Errors`, `Throttles`, `Duration`, `ConcurrentExecutions`"+` (CloudWatch `+"`AWS/Lambda`"+`; Grafana **Stage detail**). Errors on a Kinesis-triggered function retry the batch and block the shard: the raw stream's iterator age rises.
- Logs, *On AWS*: `+"`aws logs tail /aws/lambda/%[3]s --since 1h --filter-pattern ERROR`"+`.
- Sample bad rows (in S3 under the enriched-bad prefix, and in the warehouse) to see the exact validation messages.`+local("Locally, the enricher's counts and the latest bad rows", "", mn.EnricherEvents, mn.EnricherBadRows)+sh(query("SELECT jsontext FROM %[5]s ORDER BY uploaded_at DESC LIMIT 3")),
			mn.EnricherEvents.Name, mn.EnricherBadRows.Name, fn("enricher"), functions, t.BadTable)},
		StageFirehose: {Title: "Firehose and the pseudonymizer", Body: fmt.Sprintf(`- Delivery streams: %[1]s.
- Exporter gauges: `+"`%[2]s`"+` vs `+"`%[3]s`"+` (delivered should track incoming), `+"`%[4]s`"+` (age of the oldest undelivered record).
- Pseudonymizer: `+"`sum by (stream, result) (rate(%[5]s[15m]))`"+` — any `+"`processing_failed`"+` is a record written untransformed to the processing-failed error prefix.
- CloudWatch `+"`AWS/Firehose`"+` for `+"`%[6]s`"+`: `+"`IncomingRecords`, `DeliveryToS3.Records`, `DeliveryToS3.Success`, `DeliveryToS3.DataFreshness`, `ExecuteProcessing.Success`, `SucceedProcessing.Records`"+`; Lambda `+"`%[7]s`"+` `+"`Errors`, `Duration`"+` (a transformation that times out fails the whole batch).
- *On AWS*: `+"`aws firehose describe-delivery-stream --delivery-stream-name %[6]s`"+`: destination status, buffering hints, the error output prefix.`+local("Locally", "", mn.PseudonymizerRecords, mn.LakeRecordsWritten, mn.LakePutFailures, mn.LakeBufferRecords),
			deliveries, mn.FirehoseDeliveredRecords.Name, mn.FirehoseIncomingRecords.Name, mn.FirehoseDataFreshness.Name, mn.PseudonymizerRecords.Name, firstDelivery, fn("pseudonymi"))},
		StageS3: {Title: "S3", Body: fmt.Sprintf(`- Objects for an hour, *On AWS*: `+"`aws s3 ls s3://%[1]s/%[2]s$(date -u +%%Y/%%m/%%d/%%H)/ --summarize`"+` — an hour with no objects while Firehose shows incoming records is a delivery problem; objects present but missing in the warehouse is a load problem.
- Error prefixes (`+"`processing-failed/`, `*-failed/`"+`) hold records Firehose could not transform or deliver; their count is the loss at this stage.
- The exporter's S3 nodes count records under each prefix by event time: `+"`%[3]s{kind=\"s3\"}`"+`.`+local("Locally, objects written to the object store against objects loaded into the warehouse (written but not loaded is a load problem)", "", mn.LakeObjectsWritten, mn.WarehouseObjectsLoaded, mn.WarehouseLoadFailures),
			t.Bucket, goodPrefix, mn.NodeEvents.Name)},
		StageWarehouse: {Title: "Warehouse", Body: fmt.Sprintf(`- Latest load: `+"`time() - %[1]s`"+` per table.
- Counts per hour by collector time (compare with the reconcile table's warehouse row), *On AWS* in Snowflake:

  `+"```sql"+`
  SELECT DATE_TRUNC('hour', collector_tstamp) AS hour, COUNT(*) AS events
  FROM %[2]s
  WHERE collector_tstamp >= DATEADD(hour, -6, CURRENT_TIMESTAMP())
  GROUP BY 1 ORDER BY 1;
  `+"```"+`
- Loads: `+"`SELECT * FROM TABLE(INFORMATION_SCHEMA.COPY_HISTORY(TABLE_NAME => '%[3]s', START_TIME => DATEADD(hour, -6, CURRENT_TIMESTAMP())));`"+` — rows with `+"`STATUS = 'LOAD_FAILED'`"+` carry the first error; a pipe that stopped loading shows in `+"`SELECT SYSTEM$PIPE_STATUS('<pipe>');`"+`.
- Bad events land in `+"`%[4]s`"+`; a rise there with a drop in `+"`%[2]s`"+` is a validation problem upstream, not a load problem.
- Locally (`+"`plowline query`"+` reads the warehouse of `+"`plowline run`"+`; SQLite dialect): counts per hour and the latest load:`+sh(query("SELECT substr(collector_tstamp, 1, 13) AS hour, COUNT(*) AS events FROM %[2]s GROUP BY 1 ORDER BY 1 DESC LIMIT 6"), query("SELECT MAX(uploaded_at) AS latest_load FROM %[2]s"), query("SELECT COUNT(*) AS bad_events FROM %[4]s")),
			mn.WarehouseLatestLoad.Name, t.GoodTable, strings.ToUpper(t.GoodTable), t.BadTable)},
		StageExporter: {Title: "The exporter itself", Body: fmt.Sprintf(`- Per source: `+"`%[1]s`"+` (1 = latest refresh succeeded), `+"`time() - %[2]s`"+`, `+"`%[3]s`"+`, `+"`rate(%[4]s[15m])`"+`. Grafana **Exporter health**.
- The exporter serves each source's last good result: a failing source freezes the edges that read it instead of making them look lost. Check its logs for the refresh error (they name the source and the failing call).
- Spend: `+"`sum by (source, unit) (rate(%[5]s[1h]))`"+` — CloudWatch bills per metric requested.
- The exporter's view now (its metrics, and the judged windows as JSON):`+local("Locally, and on AWS with $"+EnvExporterURL+" set", "", mn.SourceUp, mn.SourceErrors, mn.SourceLastSuccess)+sh("curl -fsS "+urlOf(EnvExporterURL, DefaultExporterURL, "/reconcile.json?windows=2")+" | head -40"),
			mn.SourceUp.Name, mn.SourceLastSuccess.Name, mn.SourceRefreshDuration.Name, mn.SourceErrors.Name, mn.SourceCost.Name)},
	}
	for k, v := range m {
		v.Key = k
		m[k] = v
	}
	return m
}

// local is a list item with a shell block, run as written against
// plowline run: the exporter's metrics filtered to these metrics (named by
// their metricname constants, so a rename cannot leave a runbook behind),
// and optionally a GET of path on the collector.
func local(label, collectorPath string, metrics ...mn.Info) string {
	var names []string
	for _, m := range metrics {
		names = append(names, m.Name)
	}
	cmds := []string{"curl -fsS " + urlOf(EnvExporterURL, DefaultExporterURL, "/metrics") + " | grep -E '^(" + strings.Join(names, "|") + ")[ {]'"}
	if collectorPath != "" {
		cmds = append(cmds, "curl -fsS "+urlOf(EnvCollectorURL, DefaultCollectorURL, collectorPath))
	}
	return "\n- " + label + ":" + sh(cmds...)
}

// urlOf is a quoted URL whose base is an environment variable with a default.
func urlOf(env, def, path string) string { return `"${` + env + `:-` + def + `}` + path + `"` }

// sh is a fenced shell block inside a list item.
func sh(cmds ...string) string {
	return "\n\n  ```sh\n  " + strings.Join(cmds, "\n  ") + "\n  ```"
}

// query is a plowline query command for one SQL statement.
func query(sql string) string { return `plowline query "` + sql + `"` }

type runbookData struct {
	Alert      string
	Rules      []Rule
	Runbook    Runbook
	Dashboard  string
	Overview   string
	Stages     []stageText
	StartAt    map[string]bool
	Reconcile  string
	Guide      string
	Commands   string
	Severities string
}

var runbookTmpl = template.Must(template.New("runbook").Funcs(template.FuncMap{
	"dur": promDuration,
	"inc": func(i int) int { return i + 1 },
}).Parse(`<!-- Generated by ` + "`make dashboards`" + ` from alerts/rules.go and alerts/runbook*.go; edit those, not this file. -->
# {{ .Alert }}

Severity: **{{ .Severities }}**. Dashboard: [{{ .Dashboard }}]({{ .Dashboard }}).

## What it means

{{ .Runbook.Meaning }}

## Impact

{{ .Runbook.Impact }}

{{ .Commands }}

## First steps

{{ range $i, $s := .Runbook.FirstSteps }}{{ inc $i }}. {{ $s }}
{{ end }}
## Reconcile: which stage lost events, how many, since when

Run it where the exporter's configuration is (read-only; it queries the same sources the exporter does):

` + "```sh" + `
{{ .Reconcile }}
` + "```" + `

{{ .Guide }}
## Diagnosis by stage

{{ range .Stages }}### {{ .Title }}{{ if index $.StartAt .Key }} — start here{{ end }}

{{ .Body }}

{{ end }}## Mitigation

{{ range .Runbook.Mitigation }}- {{ . }}
{{ end }}
## Escalation

{{ range .Runbook.Escalation }}- {{ . }}
{{ end }}
## The rule{{ if gt (len .Rules) 1 }}s{{ end }}

{{ range .Rules }}Severity ` + "`{{ .Severity }}`" + `, firing after {{ dur .For }}:

` + "```promql" + `
{{ .Expr }}
` + "```" + `

{{ end }}Thresholds are named constants in ` + "`alerts/rules.go`" + `, each with the reason for its value. The rule is
unit-tested in ` + "`alerts/plowline.rules*.test.yml`" + ` (from a checkout of the repository: ` + "`make test`" + `, or promtool as in ` + "`alerts/alerts_test.go`" + `).
Overview dashboard: [{{ .Overview }}]({{ .Overview }}).
`))

// Where the runbooks' commands point, as environment variables with the
// defaults of `plowline run` started in the current directory: every
// command runs as written against it (alerts/runbooks_run_test.go runs
// them), and on AWS on-call exports the production values first.
const (
	EnvExporterConfig = "PLOWLINE_EXPORTER_CONFIG" // the exporter's configuration file
	EnvExporterURL    = "PLOWLINE_EXPORTER_URL"    // where the exporter serves /metrics, / and /reconcile.json
	EnvCollectorURL   = "PLOWLINE_COLLECTOR_URL"   // the collector's base URL

	// Defaults: what `plowline run` writes and listens on.
	DefaultExporterConfig = "plowline-data/exporter/exporter.yaml"
	DefaultExporterURL    = "http://127.0.0.1:9090"
	DefaultCollectorURL   = "http://127.0.0.1:8080"
)

// shellVar is a variable reference with its default, as the commands use it.
func shellVar(name, def string) string { return `"${` + name + `:-` + def + `}"` }

// ReconcileCommand is the command every runbook tells on-call to run.
var ReconcileCommand = "plowline reconcile --config " + shellVar(EnvExporterConfig, DefaultExporterConfig) +
	" --from -6h --to now   # exit 0 ok, 1 an edge out of tolerance, 3 a source could not be read"

// commandsIntro says where the commands point, at the top of every runbook.
var commandsIntro = "**Commands** in this runbook run as written against `plowline run` started with its defaults in the " +
	"current directory (game days, trying a fix). On AWS, first point them at production:\n\n" +
	"```sh\n" +
	"export " + EnvExporterConfig + "=/etc/plowline/exporter.yaml   # default: " + DefaultExporterConfig + " (written by plowline run)\n" +
	"export " + EnvExporterURL + "=http://<exporter host>:9807      # default: " + DefaultExporterURL + " (plowline run's web listener)\n" +
	"export " + EnvCollectorURL + "=https://<collector host>        # default: " + DefaultCollectorURL + "\n" +
	"```\n\n" +
	"Commands marked *On AWS* (the `aws` CLI, Snowflake SQL) have no local stand-in; each has a local equivalent beside it."

// readingGuide explains the output of `plowline reconcile`, from the same
// headings and cell marks the report package prints (report.Legend), so
// the guide cannot drift from the output; alerts/runbooks_run_test.go also
// checks it against a real run.
func readingGuide() string {
	var b strings.Builder
	b.WriteString("How to read it (the exporter's page at `/` leads with the same):\n\n")
	fmt.Fprintf(&b, "- **`%s:`** first, one line per edge where a discrepancy *starts* (no failing edge upstream of it): "+
		"how many events were %s (or %s) in total since its run of out-of-tolerance windows began, the share of "+
		"expected, **since** when, and the latest window. Copy it into the incident. `(clamped: …)` after *since* "+
		"means the run reaches the start of the range: widen `--from` to find when it began. The failing edges "+
		"downstream of it are named under it: they most likely inherit the loss — do not chase them first.\n",
		report.HeadRootCause, report.Lost, report.Duplicated)
	fmt.Fprintf(&b, "- **`%s`**: those downstream edges with their own totals. **`%s`**: edges that "+
		"were out earlier in the range and are back within tolerance (a past incident, or timing). "+
		"`%s` alone means nothing is wrong.\n", report.HeadAlsoOut, report.HeadRecovered, report.HeadAllWithin)
	fmt.Fprintf(&b, "- **`%s` × windows**, then **`%s` × windows**: the 12 newest windows one by one (`--windows N`), "+
		"older ones summarised in at most four columns; the root cause is marked `▶`. Nodes' bucketing: "+
		"`event_time` is exact (the collector timestamp of each event), `arrival_time` is when the stage counted it. Cells:\n",
		report.HeadEdges, report.HeadNodes)
	for _, l := range report.Legend {
		fmt.Fprintf(&b, "  - `%s` — %s\n", l.Example, l.Meaning)
	}
	fmt.Fprintf(&b, "- **`%s`** table: `up`/`DOWN`, last success, errors and the last error per source: fix a `DOWN` "+
		"source first (see **The exporter itself**), its nodes' counts are unknown. The exporter's page also shows "+
		"the **Canary** (reconcile sends none): canaries sent, not accepted, and per stage seen / lost / latency.\n", report.HeadSources)
	b.WriteString("- **Exit status:** 0 every settled window within tolerance; 1 an edge out of tolerance; 2 bad flags or " +
		"configuration; 3 nothing out of tolerance but a source failed (the answer is incomplete). `--json` prints the " +
		"same for scripts (`root_cause`, `incidents`).\n")
	b.WriteString("- Widen the range (`--from -48h`) to find when it started; narrow it (`--from 2026-11-26T09:00:00Z " +
		"--to 2026-11-26T12:00:00Z`) to re-check a backfill.\n")
	return b.String()
}

// RenderRunbook renders the runbook of alert from the rules that share its name.
func RenderRunbook(o Options, alert string) ([]byte, error) {
	o = o.withDefaults()
	var rules []Rule
	for _, r := range Rules(o) {
		if r.Alert == alert {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("no rule named %q", alert)
	}
	rb := fillPlaceholders(o, rules[0].Runbook)
	st := stages(o)
	start := map[string]bool{}
	var ordered []stageText
	for _, k := range rb.StartAt {
		s, ok := st[k]
		if !ok {
			return nil, fmt.Errorf("runbook %s: unknown stage %q", alert, k)
		}
		start[k] = true
		ordered = append(ordered, s)
	}
	for _, k := range stageOrder {
		if !start[k] {
			ordered = append(ordered, st[k])
		}
	}
	var sev []string
	for _, r := range rules {
		sev = append(sev, r.Severity)
	}
	data := runbookData{
		Alert: alert, Rules: rules, Runbook: rb,
		Dashboard: o.DashboardURL(rules[0].Dashboard), Overview: o.DashboardURL(DashboardOverview),
		Stages: ordered, StartAt: start, Reconcile: ReconcileCommand, Guide: readingGuide(), Commands: commandsIntro,
		Severities: strings.Join(sev, "** or **"),
	}
	var b bytes.Buffer
	if err := runbookTmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("rendering runbook %s: %w", alert, err)
	}
	return b.Bytes(), nil
}

// fillPlaceholders puts the topology's names into the runbook text where
// it says <collector function>, <pseudonymizer function> or <bucket>;
// placeholders for alert labels (<stream>, <function>) stay for on-call to
// fill from the alert.
func fillPlaceholders(o Options, rb Runbook) Runbook {
	role := func(r string) string {
		for _, f := range o.Topology.Functions {
			if strings.Contains(f, r) {
				return f
			}
		}
		return "<" + r + " function>"
	}
	rep := strings.NewReplacer(
		"<collector function>", role("collector"),
		"<pseudonymizer function>", role("pseudonymi"),
		"<bucket>", o.Topology.Bucket,
	)
	fill := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = rep.Replace(s)
		}
		return out
	}
	rb.Meaning, rb.Impact = rep.Replace(rb.Meaning), rep.Replace(rb.Impact)
	rb.FirstSteps, rb.Mitigation, rb.Escalation = fill(rb.FirstSteps), fill(rb.Mitigation), fill(rb.Escalation)
	return rb
}
