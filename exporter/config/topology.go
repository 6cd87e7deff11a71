// Package config is the exporter's configuration: the AWS topology of the
// pipeline (streams, delivery streams, functions, bucket, tables), the
// sources to read, and the flow graph to reconcile. The dashboard builders
// read the same topology, so a dashboard names exactly the resources the
// exporter watches.
package config

// Topology names the pipeline's resources.
type Topology struct {
	Region string `yaml:"region"`
	// Streams are the Kinesis data streams, in pipeline order.
	Streams []Stream `yaml:"streams"`
	// DeliveryStreams are the Firehose delivery streams (with the
	// pseudonymizer as their transformation Lambda) and their S3 prefixes.
	DeliveryStreams []DeliveryStream `yaml:"delivery_streams"`
	// Functions are the Lambda functions (collector, enricher, pseudonymizer).
	Functions []string `yaml:"functions"`
	// LoadBalancers are the ELB/ALB names in front of the collector
	// (CloudWatch LoadBalancer dimension, e.g. app/snowplow/0123456789abcdef).
	LoadBalancers []string `yaml:"load_balancers"`
	Bucket        string   `yaml:"bucket"`
	// GoodTable and BadTable are the warehouse tables Snowpipe loads.
	GoodTable string `yaml:"good_table"`
	BadTable  string `yaml:"bad_table"`
}

// Stream is a Kinesis data stream.
type Stream struct {
	Name string `yaml:"name"`
	// RetentionHours is how long Kinesis keeps records; an iterator age
	// beyond it means data loss.
	RetentionHours float64 `yaml:"retention_hours"`
}

// DeliveryStream is a Firehose delivery stream and where it writes.
type DeliveryStream struct {
	Name   string `yaml:"name"`
	Prefix string `yaml:"prefix"`
	// Source is the Kinesis stream it reads.
	Source string `yaml:"source"`
}

// GitLabTopology is the pipeline GitLab runs on AWS.
func GitLabTopology() Topology {
	return Topology{
		Region: "us-east-1",
		Streams: []Stream{
			{Name: "snowplow-raw-good", RetentionHours: 48},
			{Name: "snowplow-raw-bad", RetentionHours: 48},
			{Name: "snowplow-enriched-good", RetentionHours: 48},
			{Name: "snowplow-enriched-bad", RetentionHours: 48},
		},
		DeliveryStreams: []DeliveryStream{
			{Name: "snowplow-enriched-good", Prefix: "output/", Source: "snowplow-enriched-good"},
			{Name: "snowplow-enriched-bad", Prefix: "enriched-bad/", Source: "snowplow-enriched-bad"},
			{Name: "snowplow-raw-bad", Prefix: "raw-bad/", Source: "snowplow-raw-bad"},
		},
		Functions:     []string{"snowplow-collector", "snowplow-enricher", "snowplow-pseudonymizer"},
		LoadBalancers: []string{"app/snowplow-collector/0123456789abcdef"},
		Bucket:        "gitlab-com-snowplow-events",
		GoodTable:     "gitlab_events",
		BadTable:      "gitlab_bad_events",
	}
}
