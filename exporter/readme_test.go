package exporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plowline/plowline/metricname"
)

// TestReadmeDocumentsEveryExporterMetric keeps the exporter's reference page
// (docs/exporter.md) in step with the metric names the exporter serves.
func TestReadmeDocumentsEveryExporterMetric(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "exporter.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
	served := []string{"plowline_node_", "plowline_edge_", "plowline_source_", "plowline_canary_", "plowline_kinesis_",
		"plowline_firehose_", "plowline_lambda_", "plowline_warehouse_latest", "plowline_exporter_", "plowline_window_", "plowline_s3_"}
	n := 0
	for _, m := range metricname.All() {
		for _, p := range served {
			if strings.HasPrefix(m.Name, p) {
				n++
				if !strings.Contains(section, "`"+m.Name+"`") {
					t.Errorf("docs/exporter.md does not document %s", m.Name)
				}
				for _, l := range m.Labels {
					if !strings.Contains(section, l) {
						t.Errorf("docs/exporter.md does not mention label %s of %s", l, m.Name)
					}
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d exporter metrics found; prefixes out of date?", n)
	}
}
