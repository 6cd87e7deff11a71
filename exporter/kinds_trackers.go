package exporter

import (
	"log/slog"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/exporter/trackers"
)

func init() { Kinds[config.KindPrometheus] = newTrackers }

// newTrackers builds the PromQL source. Each configured node's select is a
// trackers query (counter or expr); without nodes the source reads GitLab's
// tracker counters (trackers:emitted, trackers:successful, trackers:failed).
func newTrackers(src config.Source, cfg config.Config, _ Options, _ *slog.Logger) (source.Source, error) {
	var tc trackers.Config
	if err := src.DecodeSettings(&tc); err != nil {
		return nil, err
	}
	tc.Interval = src.Interval
	if tc.Timeout == 0 {
		tc.Timeout = src.Timeout
	}
	for _, n := range cfg.NodesOf(src.Name) {
		var q trackers.Query
		if err := n.DecodeSelect(&q); err != nil {
			return nil, err
		}
		q.Node = n.Name
		tc.Queries = append(tc.Queries, q)
	}
	if len(tc.Queries) == 0 {
		tc.Queries = trackers.DefaultQueries()
	}
	return trackers.New(src.Name, tc)
}
