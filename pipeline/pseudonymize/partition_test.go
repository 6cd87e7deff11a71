package pseudonymize

import (
	"testing"
	"time"

	"github.com/plowline/plowline/pipeline/event"
)

func TestPartitionKeys(t *testing.T) {
	e, _ := event.Parse(string(conformanceLine(t)))
	e[event.CollectorTstamp] = "2026-11-26 13:59:59.999"
	keys, err := PartitionKeys(append(e.AppendTSV(nil), '\n'))
	if err != nil || keys[KeyCollectorDate] != "2026-11-26" || keys[KeyCollectorHour] != "13" || len(keys) != 2 {
		t.Fatalf("event keys %v, %v", keys, err)
	}
	row := []byte(`{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0","data":{"failure":{"timestamp":"2026-01-02T03:04:05.678Z"}}}`)
	keys, err = PartitionKeys(row)
	if err != nil || keys[KeyCollectorDate] != "2026-01-02" || keys[KeyCollectorHour] != "03" {
		t.Fatalf("bad row keys %v, %v", keys, err)
	}
	arrival := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, line := range []string{`{"schema":"x","data":{}}`, "garbage", `{"data":{"failure":{"timestamp":"yesterday"}}}`} {
		if _, err := PartitionKeys([]byte(line)); err == nil {
			t.Errorf("%q: no error", line)
		}
		if k := PartitionKeysAt([]byte(line), arrival); k[KeyCollectorDate] != "2026-05-06" || k[KeyCollectorHour] != "07" {
			t.Errorf("%q: fallback keys %v", line, k)
		}
	}
	// Non-UTC offsets are converted.
	keys, _ = PartitionKeys([]byte(`{"data":{"failure":{"timestamp":"2026-01-02T01:30:00+02:00"}}}`))
	if keys[KeyCollectorDate] != "2026-01-01" || keys[KeyCollectorHour] != "23" {
		t.Fatalf("offset keys %v", keys)
	}
}
