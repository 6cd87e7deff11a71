// Package sdkparse is test support: it checks an enriched event line by
// the rules Snowplow's analytics SDKs parse it with, so tests of the
// pseudonymizer (unit and end to end, with real trackers) can show that
// its output stays readable by the SDKs: no pseudonym in a typed column,
// valid Iglu URIs in the JSON fields. It is not used by the pipeline.
package sdkparse

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/plowline/plowline/pipeline/event"
)

// Check checks an enriched TSV line the way Snowplow's Go analytics
// SDK reads it: 131 fields; integers parse with strconv.Atoi, decimals
// with strconv.ParseFloat, booleans with strconv.ParseBool, timestamps
// with the layout "2006-01-02 15:04:05.999"; contexts, derived_contexts
// and unstruct_event are JSON whose schema and every entity's schema are
// Iglu URIs. It returns the first field that would make the SDK refuse
// the event.
func Check(line string) error {
	fields := strings.Split(line, "\t")
	if len(fields) != event.NumFields {
		return fmt.Errorf("%d fields, want %d", len(fields), event.NumFields)
	}
	for i, v := range fields {
		if v == "" {
			continue
		}
		f := event.Field(i)
		var err error
		switch f.Kind() {
		case event.KindInt:
			_, err = strconv.Atoi(v)
		case event.KindFloat:
			_, err = strconv.ParseFloat(v, 64)
		case event.KindBool:
			_, err = strconv.ParseBool(v)
		case event.KindTimestamp:
			_, err = time.Parse("2006-01-02 15:04:05.999", v)
		case event.KindContexts, event.KindUnstruct:
			var sd struct {
				Schema string          `json:"schema"`
				Data   json.RawMessage `json:"data"`
			}
			if err = json.Unmarshal([]byte(v), &sd); err == nil {
				if _, err = event.ParseSchemaKey(sd.Schema); err == nil {
					var items []struct {
						Schema string `json:"schema"`
					}
					if f.Kind() == event.KindContexts {
						err = json.Unmarshal(sd.Data, &items)
					} else {
						var one struct {
							Schema string `json:"schema"`
						}
						err = json.Unmarshal(sd.Data, &one)
						items = append(items, one)
					}
					for _, it := range items {
						if err == nil {
							_, err = event.ParseSchemaKey(it.Schema)
						}
					}
				}
			}
		}
		if err != nil {
			return fmt.Errorf("%s = %.80q: %v", f.Name(), v, err)
		}
	}
	return nil
}
