package config

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/plowline/plowline/metricname"
)

// Site-specific values the GitLab default cannot know; `plowline exporter
// --print-config` shows them for the operator to replace.
const (
	DefaultPrometheusURL      = "http://prometheus.example.internal:9090"
	DefaultSnowflakeAccount   = "gitlab-account"
	DefaultSnowflakeKeyFile   = "/etc/plowline/snowflake_rsa_key.p8"
	DefaultS3StateFile        = "/var/lib/plowline/s3-state.json"
	DefaultMetricsStateSuffix = "-state.json"
)

func node(name, src, help string, sel any) Node {
	return Node{Name: name, Source: src, Help: help, Select: EncodeNode(sel)}
}

func edge(name, from, to, rel string, ratio float64, budget time.Duration, help string) Edge {
	return Edge{Name: name, From: from, To: to, Relation: rel, Tolerance: Tolerance{Ratio: ratio}, LatencyBudget: budget, Help: help}
}

func split(name, from, good, bad string, ratio float64, budget time.Duration, help string) Edge {
	e := edge(name, from, good, RelationSplit, ratio, budget, help)
	e.ToBad = bad
	return e
}

func merge(name, from, also, to string, ratio float64, budget time.Duration, help string) Edge {
	e := edge(name, from, to, RelationMerge, ratio, budget, help)
	e.FromAlso = also
	return e
}

// Default is GitLab's pipeline on AWS: the trackers' counters in
// Prometheus, the collector/enricher/pseudonymizer Lambdas' EMF counters
// and the Kinesis/Firehose metrics in CloudWatch, the records in S3 and the
// rows in Snowflake, reconciled in 1-hour windows over 24 hours.
//
// CloudWatch counts are bucketed by arrival time, so the edges between
// them and event-time stages carry wider tolerances and budgets.
func Default() Config {
	t := GitLabTopology()
	good, bad := t.DeliveryStreams[0], t.DeliveryStreams[1]
	lambda := func(fn, m string) string { return "lambda:" + fn + ":" + m }
	collector, enricher := t.Functions[0], t.Functions[1]
	c := Config{
		Window:   time.Hour,
		Lookback: 24 * time.Hour,
		Topology: t,
		Sources: []Source{
			{Name: "trackers", Kind: KindPrometheus, Interval: time.Minute, Settings: EncodeNode(map[string]any{"url": DefaultPrometheusURL})},
			{Name: "cloudwatch", Kind: KindCloudWatch, Interval: 5 * time.Minute, Settings: EncodeNode(map[string]any{"period": "1m", "delay": "5m"})},
			{Name: "s3", Kind: KindS3, Interval: 5 * time.Minute, Timeout: 4 * time.Minute, Settings: EncodeNode(map[string]any{
				"bucket": t.Bucket, "region": t.Region, "state_file": DefaultS3StateFile})},
			{Name: "snowflake", Kind: KindWarehouse, Interval: 15 * time.Minute, Timeout: 2 * time.Minute, Settings: EncodeNode(map[string]any{
				"driver": "snowflake",
				"snowflake": map[string]string{"account": DefaultSnowflakeAccount, "user": "PLOWLINE_EXPORTER", "role": "PLOWLINE_EXPORTER",
					"warehouse": "PLOWLINE_XS", "database": "RAW", "schema": "SNOWPLOW", "private_key_file": DefaultSnowflakeKeyFile}})},
		},
		Nodes: []Node{
			node("trackers:emitted", "trackers", "Events the GitLab application emitted (gitlab_snowplow_events_total).", map[string]string{"counter": "gitlab_snowplow_events_total"}),
			node("trackers:successful", "trackers", "Events the application's tracker delivered to the collector.", map[string]string{"counter": "gitlab_snowplow_successful_events_total"}),
			node("trackers:failed", "trackers", "Events the application's tracker failed to deliver.", map[string]any{"counter": "gitlab_snowplow_failed_events_total", "absent_as_zero": true}),
			node("collector", "cloudwatch", "Events the collector Lambda acknowledged (EMF plowline_collector_events_total).", map[string]string{"topology_node": lambda(collector, "events")}),
			node("enricher:good", "cloudwatch", "Events the enricher Lambda wrote as good (EMF).", map[string]string{"topology_node": lambda(enricher, "events:good")}),
			node("enricher:bad", "cloudwatch", "Bad rows the enricher Lambda wrote (EMF).", map[string]string{"topology_node": lambda(enricher, "events:bad")}),
			node("kinesis:enriched-good", "cloudwatch", "Kinesis IncomingRecords of the enriched-good stream.", map[string]string{"topology_node": "kinesis:" + t.Streams[2].Name}),
			node("kinesis:enriched-bad", "cloudwatch", "Kinesis IncomingRecords of the enriched-bad stream.", map[string]string{"topology_node": "kinesis:" + t.Streams[3].Name}),
			node("firehose:good:incoming", "cloudwatch", "Firehose IncomingRecords of the enriched-good delivery stream.", map[string]string{"topology_node": "firehose:" + good.Name + ":incoming"}),
			node("firehose:good:delivered", "cloudwatch", "Firehose DeliveryToS3.Records of the enriched-good delivery stream.", map[string]string{"topology_node": "firehose:" + good.Name + ":delivered"}),
			node("firehose:bad:delivered", "cloudwatch", "Firehose DeliveryToS3.Records of the enriched-bad delivery stream.", map[string]string{"topology_node": "firehose:" + bad.Name + ":delivered"}),
			node("s3:good", "s3", "Enriched events in S3 under "+good.Prefix+" (exact, by collector_tstamp).", map[string]string{"prefix": good.Prefix, "count": "records", "format": "tsv"}),
			node("s3:bad", "s3", "Bad rows in S3 under "+bad.Prefix+" (exact, by failure timestamp).", map[string]string{"prefix": bad.Prefix, "count": "records", "format": "bad_rows"}),
			node("s3:raw-bad", "s3", "Collector bad rows in S3 under "+t.DeliveryStreams[2].Prefix+" (exact, by failure timestamp).", map[string]string{"prefix": t.DeliveryStreams[2].Prefix, "count": "records", "format": "bad_rows"}),
			node("warehouse:good", "snowflake", "Rows in "+t.GoodTable+" by collector_tstamp.", map[string]string{"table": t.GoodTable}),
			node("warehouse:bad", "snowflake", "Rows in "+t.BadTable+" by failure timestamp.", map[string]string{"table": t.BadTable,
				"time_expr": "TRY_TO_TIMESTAMP_NTZ(PARSE_JSON(jsontext):data:failure:timestamp::string)"}),
		},
		Edges: []Edge{
			split("trackers_delivery", "trackers:emitted", "trackers:successful", "trackers:failed", 0.001, 5*time.Minute,
				"Every event the application emits is either delivered or counted as failed."),
			edge("trackers_to_collector", "trackers:successful", "collector", RelationEq, 0.02, 15*time.Minute,
				"Delivered by the trackers, acknowledged by the collector (different clocks: 2%)."),
			split("collector_to_enricher", "collector", "enricher:good", "enricher:bad", 0.005, 15*time.Minute,
				"Every acknowledged event leaves the enricher as good or as a bad row."),
			edge("enricher_to_kinesis_good", "enricher:good", "kinesis:enriched-good", RelationEq, 0.005, 15*time.Minute,
				"Good events reach the enriched-good stream."),
			edge("kinesis_to_firehose_good", "kinesis:enriched-good", "firehose:good:incoming", RelationEq, 0.01, 20*time.Minute,
				"Firehose reads every record of the enriched-good stream."),
			edge("firehose_delivery_good", "firehose:good:incoming", "firehose:good:delivered", RelationEq, 0.01, 30*time.Minute,
				"Firehose delivers what it received (the pseudonymizer may fail records into processing-failed/)."),
			edge("firehose_to_s3_good", "firehose:good:delivered", "s3:good", RelationEq, 0.02, time.Hour,
				"Delivered records are in S3 (arrival time vs. collector time: 2%)."),
			edge("s3_to_warehouse_good", "s3:good", "warehouse:good", RelationEq, 0.001, 3*time.Hour,
				"Snowpipe loads every good record."),
			edge("enricher_to_kinesis_bad", "enricher:bad", "kinesis:enriched-bad", RelationEq, 0.005, 15*time.Minute,
				"Bad rows reach the enriched-bad stream."),
			edge("kinesis_to_s3_bad", "kinesis:enriched-bad", "firehose:bad:delivered", RelationEq, 0.02, 30*time.Minute,
				"Firehose delivers the enriched-bad stream."),
			edge("firehose_to_s3_bad", "firehose:bad:delivered", "s3:bad", RelationEq, 0.02, time.Hour,
				"Delivered bad rows are in S3."),
			merge("s3_to_warehouse_bad", "s3:bad", "s3:raw-bad", "warehouse:bad", 0.001, 3*time.Hour,
				"Snowpipe loads every bad row of both bad prefixes into "+t.BadTable+"."),
		},
	}
	c.fillDefaults()
	return c
}

// LocalOptions say where `plowline run`'s parts are.
type LocalOptions struct {
	// DataDir holds the exporter's state files.
	DataDir string
	// CollectorURL is the collector's base URL (for the canary; empty: no canary).
	CollectorURL string
	// CanaryInterval is how often the canary sends (default 1m).
	CanaryInterval time.Duration
	// MetricsURL is the /metrics of the process running the pipeline.
	MetricsURL string
	// WindowsURL serves the pipeline's event-time counts per window
	// (plowline_window_records_total); default MetricsURL + "/windows".
	WindowsURL string
	// BufferInterval is the batch writers' buffer interval: the settling
	// budget is derived from it.
	BufferInterval time.Duration
	// S3Endpoint and Bucket are the embedded object store.
	S3Endpoint, Bucket string
	// WarehousePath is the embedded SQLite warehouse.
	WarehousePath string
	// Window is the reconciliation window (default 1m); Interval the
	// refresh interval of every source (default 5s); Budget the latency
	// budget of every edge (default LocalBudget(BufferInterval)).
	Window, Interval, Budget time.Duration
	// Topology names the streams and prefixes (default GitLab's).
	Topology *Topology
}

// LocalBudget is the settling budget of every edge of the local graph for
// batch writers flushing every bufferInterval (default 10s): a record
// reaches the object store at most one buffer interval after it left the
// pseudonymizer, the loader follows within a second or two; twice the
// interval plus 5s leaves room for a loaded machine.
func LocalBudget(bufferInterval time.Duration) time.Duration {
	if bufferInterval <= 0 {
		bufferInterval = 10 * time.Second
	}
	return 2*bufferInterval + 5*time.Second
}

// Local is `plowline run`'s pipeline: the process's own counters, the
// embedded object store and the embedded warehouse, in short windows.
func Local(o LocalOptions) Config {
	if o.Window == 0 {
		o.Window = time.Minute
	}
	if o.Interval == 0 {
		o.Interval = 5 * time.Second
	}
	if o.Budget == 0 {
		o.Budget = LocalBudget(o.BufferInterval)
	}
	if o.WindowsURL == "" {
		o.WindowsURL = o.MetricsURL + "/windows"
	}
	t := GitLabTopology()
	if o.Topology != nil {
		t = *o.Topology
	}
	good, bad, raw := t.DeliveryStreams[0], t.DeliveryStreams[1], t.DeliveryStreams[2]
	// Every pipeline node reads the event-time counts of plowline run
	// (package windowcount): each record in the window of its collector
	// time (events) or failure time (bad rows), the same basis as the
	// object-store and warehouse nodes.
	count := func(node string) map[string]any {
		return map[string]any{"metric": metricname.WindowRecords.Name, "match": map[string]string{metricname.LabelNode: node},
			"window_label": metricname.LabelWindowStart}
	}
	pseudo := func(short string, ok bool) string {
		if ok {
			return metricname.WindowNodePseudonymizerPre + short + ":ok"
		}
		return metricname.WindowNodePseudonymizerPre + short + ":failed"
	}
	short := func(s string) string { return strings.TrimPrefix(s, "snowplow-") }
	c := Config{
		Window:   o.Window,
		Lookback: 2 * time.Hour,
		Topology: t,
		Sources: []Source{
			{Name: "pipeline", Kind: KindMetrics, Interval: o.Interval, Settings: EncodeNode(map[string]any{
				"url": o.WindowsURL, "state_file": filepath.Join(o.DataDir, "exporter", "pipeline"+DefaultMetricsStateSuffix)})},
			{Name: "lake", Kind: KindS3, Interval: o.Interval, Settings: EncodeNode(map[string]any{
				"bucket": o.Bucket, "endpoint": o.S3Endpoint, "region": "us-east-1", "force_path_style": true, "anonymous": true,
				"close_after": "2m", "state_file": filepath.Join(o.DataDir, "exporter", "s3-state.json")})},
			{Name: "warehouse", Kind: KindWarehouse, Interval: o.Interval, Settings: EncodeNode(map[string]any{
				"driver": "sqlite", "path": o.WarehousePath})},
		},
		Nodes: []Node{
			node("collector", "pipeline", "Events the collector acknowledged, by collector time.", count(metricname.WindowNodeCollector)),
			node("collector:bad", "pipeline", "Bad rows the collector wrote to "+raw.Source+" (size violations), by failure time.", count(metricname.WindowNodeCollectorBad)),
			node("enricher:good", "pipeline", "Events the enricher wrote as good, by collector_tstamp.", count(metricname.WindowNodeEnricherGood)),
			node("enricher:bad", "pipeline", "Bad rows the enricher wrote, by the collector time of their payload.", count(metricname.WindowNodeEnricherBad)),
			node("enricher:bad-rows", "pipeline", "The same bad rows by their failure timestamp (the time the object store and warehouse count them by).", count(metricname.WindowNodeEnricherBadRows)),
			node("pseudonymizer:good", "pipeline", "Good events the pseudonymizer transformed.", count(pseudo(short(good.Source), true))),
			node("pseudonymizer:good:failed", "pipeline", "Good events the pseudonymizer failed (written to processing-failed/).", count(pseudo(short(good.Source), false))),
			node("pseudonymizer:bad", "pipeline", "Enricher bad rows the pseudonymizer transformed.", count(pseudo(short(bad.Source), true))),
			node("pseudonymizer:bad:failed", "pipeline", "Enricher bad rows the pseudonymizer failed.", count(pseudo(short(bad.Source), false))),
			node("pseudonymizer:raw-bad", "pipeline", "Collector bad rows the pseudonymizer transformed.", count(pseudo(short(raw.Source), true))),
			node("pseudonymizer:raw-bad:failed", "pipeline", "Collector bad rows the pseudonymizer failed.", count(pseudo(short(raw.Source), false))),
			node("lake:good", "pipeline", "Good records in objects the batch writer stored under "+good.Prefix+".", count(metricname.WindowNodeLakePre+good.Prefix)),
			node("lake:bad", "pipeline", "Bad rows in objects the batch writer stored under "+bad.Prefix+".", count(metricname.WindowNodeLakePre+bad.Prefix)),
			node("lake:raw-bad", "pipeline", "Collector bad rows in objects the batch writer stored under "+raw.Prefix+".", count(metricname.WindowNodeLakePre+raw.Prefix)),
			node("s3:good", "lake", "Enriched events in the object store under "+good.Prefix+" (exact, by collector_tstamp).", map[string]string{"prefix": good.Prefix, "count": "records", "format": "tsv"}),
			node("s3:bad", "lake", "Bad rows in the object store under "+bad.Prefix+" (exact, by failure timestamp).", map[string]string{"prefix": bad.Prefix, "count": "records", "format": "bad_rows"}),
			node("s3:raw-bad", "lake", "Collector bad rows in the object store under "+raw.Prefix+" (exact, by failure timestamp).", map[string]string{"prefix": raw.Prefix, "count": "records", "format": "bad_rows"}),
			node("warehouse:good", "warehouse", "Rows in "+t.GoodTable+" by collector_tstamp.", map[string]string{"table": t.GoodTable}),
			node("warehouse:bad", "warehouse", "Rows in "+t.BadTable+" by failure timestamp.", map[string]string{"table": t.BadTable,
				"time_expr": "json_extract(jsontext, '$.data.failure.timestamp')"}),
		},
		Edges: []Edge{
			split("collector_to_enricher", "collector", "enricher:good", "enricher:bad", 0, o.Budget,
				"Every acknowledged event leaves the enricher as good or as a bad row."),
			split("enricher_to_pseudonymizer", "enricher:good", "pseudonymizer:good", "pseudonymizer:good:failed", 0, o.Budget,
				"The pseudonymizer transforms (or fails into processing-failed/) every good event."),
			edge("pseudonymizer_to_lake", "pseudonymizer:good", "lake:good", RelationEq, 0, o.Budget,
				"The batch writer stores every transformed event."),
			edge("lake_to_s3_good", "lake:good", "s3:good", RelationEq, 0, o.Budget,
				"Records stored are in the object store."),
			edge("s3_to_warehouse_good", "s3:good", "warehouse:good", RelationEq, 0, o.Budget,
				"The loader loads every good record."),
			split("enricher_bad_to_pseudonymizer", "enricher:bad-rows", "pseudonymizer:bad", "pseudonymizer:bad:failed", 0, o.Budget,
				"The pseudonymizer transforms every enricher bad row."),
			edge("pseudonymizer_bad_to_lake", "pseudonymizer:bad", "lake:bad", RelationEq, 0, o.Budget,
				"The batch writer stores every transformed bad row."),
			edge("lake_to_s3_bad", "lake:bad", "s3:bad", RelationEq, 0, o.Budget,
				"Bad rows stored are in the object store."),
			split("collector_bad_to_pseudonymizer", "collector:bad", "pseudonymizer:raw-bad", "pseudonymizer:raw-bad:failed", 0, o.Budget,
				"The pseudonymizer transforms every collector bad row ("+raw.Source+")."),
			edge("pseudonymizer_raw_bad_to_lake", "pseudonymizer:raw-bad", "lake:raw-bad", RelationEq, 0, o.Budget,
				"The batch writer stores every transformed collector bad row."),
			edge("lake_to_s3_raw_bad", "lake:raw-bad", "s3:raw-bad", RelationEq, 0, o.Budget,
				"Collector bad rows stored are in the object store."),
			merge("s3_to_warehouse_bad", "s3:bad", "s3:raw-bad", "warehouse:bad", 0, o.Budget,
				"The loader loads every bad row of "+bad.Prefix+" and "+raw.Prefix+" into "+t.BadTable+"."),
		},
	}
	if o.CollectorURL != "" {
		if o.CanaryInterval == 0 {
			o.CanaryInterval = time.Minute
		}
		c.Canary = &Canary{CollectorURL: o.CollectorURL, Interval: o.CanaryInterval, Deadline: max(5*time.Minute, 3*o.CanaryInterval), Stages: []CanaryStage{
			{Name: "s3", Source: "lake", Node: "s3:good"},
			{Name: "warehouse", Source: "warehouse", Node: "warehouse:good"},
		}}
	}
	c.fillDefaults()
	return c
}
