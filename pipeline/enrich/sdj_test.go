package enrich

import (
	"context"
	"testing"

	"github.com/plowline/plowline/pipeline/enrich/iglu"
	"github.com/plowline/plowline/pipeline/enrich/jsondec"
)

// TestWrapperFastPathAgreesWithValidator keeps wrapperAccepts in step with
// the embedded wrapper schemas: whatever it accepts, validation accepts.
func TestWrapperFastPathAgreesWithValidator(t *testing.T) {
	r := iglu.NewResolver(nil, iglu.Options{})
	instances := []string{
		`[]`, `[{"schema":"iglu:a.b/c/jsonschema/1-0-0","data":{}}]`, `[{"schema":"iglu:a.b/c/jsonschema/1-0-0","data":null}]`,
		`[{"schema":"iglu:a.b/c/jsonschema/1-0-0"}]`, `[{"schema":"iglu:a.b/c/jsonschema/1-0-0","data":1,"x":2}]`,
		`[{"schema":"iglu:a.b/c/jsonschema/01-0-0","data":1}]`, `[{"schema":"iglu:a.b/c/jsonschema/1-0","data":1}]`,
		`[{"schema":"iglu:a b/c/jsonschema/1-0-0","data":1}]`, `[{"schema":"iglu:a/c.d/jsonschema/1-0-0","data":1}]`,
		`[{"schema":"iglu:a/c/jsonschema/1-0-0\n","data":1}]`, `[{"schema":"iglu:-_./-_/-_/9-9-9","data":1}]`,
		`[{"schema":5,"data":1}]`, `[1]`, `{"schema":"iglu:a.b/c/jsonschema/1-0-0","data":{}}`, `{"schema":"iglu:a/b/c/1-0-0"}`,
		`{"schema":"iglu:a/b/c/1-0-0","data":[],"more":1}`, `"x"`, `null`,
	}
	for _, uri := range []string{"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
		"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"} {
		key, _ := iglu.ParseURI(uri)
		accepted := 0
		for _, in := range instances {
			v, err := jsondec.Decode([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			fast := wrapperAccepts(key, v)
			slow := r.Validate(context.Background(), key, v) == nil
			if fast && !slow {
				t.Errorf("%s: fast path accepts %s, the schema does not", uri, in)
			}
			if slow && !fast {
				t.Errorf("%s: schema accepts %s, the fast path does not (harmless, but out of step)", uri, in)
			}
			if fast {
				accepted++
			}
		}
		if accepted == 0 {
			t.Errorf("%s: fast path never taken", uri)
		}
	}
}
