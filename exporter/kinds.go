package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/plowline/plowline/exporter/cloudwatch"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/s3count"
	"github.com/plowline/plowline/exporter/scrape"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/exporter/warehouse"
)

// Options are what tests and embedders may inject.
type Options struct {
	// ReadOnly sources never write their state files (the one-shot
	// reconcile command, which must not disturb a running exporter).
	ReadOnly bool
	// Version labels plowline_exporter_build_info.
	Version string
	// CloudWatchAPI and S3API replace the AWS clients built from the
	// configuration (tests).
	CloudWatchAPI cloudwatch.API
	S3API         s3count.API
}

// Factory builds a source of one kind from its configuration and nodes.
type Factory func(src config.Source, cfg config.Config, opts Options, log *slog.Logger) (source.Source, error)

// Kinds maps each source kind to its factory. A new kind is one entry here
// (and its name in config.Kinds).
var Kinds = map[string]Factory{
	config.KindMetrics: func(src config.Source, cfg config.Config, opts Options, _ *slog.Logger) (source.Source, error) {
		return scrape.New(src, cfg.NodesOf(src.Name), opts.ReadOnly)
	},
	config.KindS3: func(src config.Source, cfg config.Config, opts Options, log *slog.Logger) (source.Source, error) {
		return s3count.New(src, cfg.NodesOf(src.Name), opts.ReadOnly, opts.S3API, log)
	},
	config.KindWarehouse: func(src config.Source, cfg config.Config, _ Options, _ *slog.Logger) (source.Source, error) {
		return warehouse.New(src, cfg.NodesOf(src.Name), nil)
	},
	config.KindCloudWatch: newCloudWatch,
}

// cloudWatchSelect is a CloudWatch node's select block: either one of the
// queries the topology implies, by its default node name, or a query.
type cloudWatchSelect struct {
	TopologyNode     string `yaml:"topology_node"`
	cloudwatch.Query `yaml:",inline"`
}

// newCloudWatch builds the CloudWatch source. Without explicit queries it
// reads what the topology implies (QueriesForTopology); a configured node
// either renames one of those (select: {topology_node: kinesis:...}) or
// brings its own query. Topology queries that feed no configured node and
// no gauge are dropped: CloudWatch bills every metric requested.
func newCloudWatch(src config.Source, cfg config.Config, opts Options, log *slog.Logger) (source.Source, error) {
	var cw cloudwatch.Config
	if err := src.DecodeSettings(&cw); err != nil {
		return nil, err
	}
	cw.Interval = src.Interval
	if cw.Region == "" {
		cw.Region = cfg.Topology.Region
	}
	queries := cw.Queries
	if len(queries) == 0 {
		queries = cloudwatch.QueriesForTopology(cfg.Topology)
	}
	rename := map[string]string{}
	var own []cloudwatch.Query
	for _, n := range cfg.NodesOf(src.Name) {
		var sel cloudWatchSelect
		if err := n.DecodeSelect(&sel); err != nil {
			return nil, err
		}
		if sel.TopologyNode != "" {
			rename[sel.TopologyNode] = n.Name
			continue
		}
		q := sel.Query
		q.Node = n.Name
		own = append(own, q)
	}
	var kept []cloudwatch.Query
	found := map[string]bool{}
	for _, q := range queries {
		if name, ok := rename[q.Node]; ok {
			found[q.Node] = true
			q.Node = name
		} else if _, isNode := cfg.Node(q.Node); !isNode {
			q.Node = ""
		}
		if q.Node != "" || q.Gauge != "" {
			kept = append(kept, q)
		}
	}
	for from, to := range rename {
		if !found[from] {
			return nil, fmt.Errorf("nodes[%s].select.topology_node: %q is not one of the topology's CloudWatch queries", to, from)
		}
	}
	cw.Queries = append(kept, own...)
	api := opts.CloudWatchAPI
	if api == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, err := cloudwatch.NewClient(ctx, cw)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src.Name, err)
		}
		api = client
	}
	s, err := cloudwatch.New(src.Name, cw, api)
	if err != nil {
		return nil, err
	}
	s.SetLogger(log)
	return s, nil
}
