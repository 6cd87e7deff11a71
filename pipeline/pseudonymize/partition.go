package pseudonymize

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/plowline/plowline/pipeline/event"
)

// The Firehose dynamic-partitioning keys the pseudonymizer sets on every
// record, for S3 prefixes such as
// enriched/collector_date=!{partitionKeyFromLambda:collector_date}/collector_hour=!{partitionKeyFromLambda:collector_hour}/.
const (
	KeyCollectorDate = "collector_date" // yyyy-MM-dd, UTC
	KeyCollectorHour = "collector_hour" // HH (00-23), UTC
)

// PartitionKeys returns the partition keys of a line: for an enriched event
// the date and hour of its collector_tstamp; for a bad row those of its
// failure.timestamp (when the failure happened, which for collector and
// enrich failures is within seconds of collection). It is an error when the
// line has no such timestamp; PartitionKeysAt falls back to the arrival time.
func PartitionKeys(line []byte) (map[string]string, error) {
	t, err := lineTime(trimNewline(line))
	if err != nil {
		return nil, err
	}
	return keysFor(t), nil
}

// PartitionKeysAt is PartitionKeys that falls back to arrival (Firehose's
// approximateArrivalTimestamp) when the line carries no usable timestamp.
func PartitionKeysAt(line []byte, arrival time.Time) map[string]string {
	t, err := lineTime(trimNewline(line))
	if err != nil {
		t = arrival
	}
	return keysFor(t)
}

func keysFor(t time.Time) map[string]string {
	t = t.UTC()
	return map[string]string{
		KeyCollectorDate: t.Format("2006-01-02"),
		KeyCollectorHour: t.Format("15"),
	}
}

func lineTime(line []byte) (time.Time, error) {
	if len(line) > 0 && line[0] == '{' {
		var br struct {
			Data struct {
				Failure struct {
					Timestamp string `json:"timestamp"`
				} `json:"failure"`
			} `json:"data"`
		}
		if err := json.Unmarshal(line, &br); err != nil {
			return time.Time{}, errors.New("bad row is not JSON of the bad-row shape")
		}
		if br.Data.Failure.Timestamp == "" {
			return time.Time{}, errors.New("bad row has no data.failure.timestamp")
		}
		t, err := time.Parse(time.RFC3339Nano, br.Data.Failure.Timestamp)
		if err != nil {
			return time.Time{}, errors.New("bad row data.failure.timestamp is not RFC 3339")
		}
		return t, nil
	}
	return event.CollectorTime(string(line))
}
