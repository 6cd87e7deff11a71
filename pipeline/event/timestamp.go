package event

import (
	"errors"
	"fmt"
	"time"
)

// ParseTimestamp parses an enriched timestamp (TimestampLayout, with 0 to 9
// fractional digits) as UTC.
func ParseTimestamp(s string) (time.Time, error) {
	if !ValidTimestamp(s) {
		return time.Time{}, errors.New("not a timestamp (want yyyy-MM-dd HH:mm:ss.SSS, UTC)")
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	if err != nil {
		// ValidTimestamp admits day 31 of a 30-day month; time.Parse does not.
		return time.Time{}, errors.New("not a calendar date")
	}
	return t, nil
}

// CollectorTime returns the collector_tstamp of an enriched TSV line without
// parsing the rest of it: what partitions and reconciliation windows are
// keyed by.
func CollectorTime(line string) (time.Time, error) {
	v, ok := FieldOf(line, CollectorTstamp)
	if !ok {
		return time.Time{}, fmt.Errorf("line has fewer than %d fields", int(CollectorTstamp)+1)
	}
	if v == "" {
		return time.Time{}, &FieldError{Field: CollectorTstamp, Offset: -1, Reason: "empty"}
	}
	t, err := ParseTimestamp(v)
	if err != nil {
		return time.Time{}, &FieldError{Field: CollectorTstamp, Offset: -1, Reason: err.Error()}
	}
	return t, nil
}
