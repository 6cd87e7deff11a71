package pseudonymize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestStreamLongLinesAndRejects(t *testing.T) {
	p := mustNew(t, "stream-key")
	// A raw bad row whose body (3 MB) is longer than the read buffer.
	body := strings.Repeat("uid=secret-user&", 3<<20/16)
	row, _ := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow.badrows/adapter_failures/jsonschema/1-0-0",
		"data": map[string]any{"payload": map[string]any{"body": body}}})
	in := string(conformanceLine(t)) + "\n" + string(row) + "\r\n\n  \ngarbage\n" + string(conformanceLine(t))
	var out bytes.Buffer
	var rejected []string
	st, err := p.Stream(strings.NewReader(in), &out, func(n int, line []byte, reason error) error {
		rejected = append(rejected, fmt.Sprintf("%d:%s", n, line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 4 || st.OK != 3 || st.Rejected != 1 || len(rejected) != 1 || rejected[0] != "5:garbage" {
		t.Fatalf("stats %+v rejected %q", st, rejected)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], `"body":"`+p.Pseudonym(body)+`"`) || strings.Contains(out.String(), "secret-user") {
		t.Fatalf("output lines %d; long body not pseudonymized", len(lines))
	}
	var rej bytes.Buffer
	RejectsTSV(&rej)(7, []byte("a\tb"), fmt.Errorf("why\tnot"))
	if rej.String() != "7\twhy not\ta\tb\n" {
		t.Fatalf("rejects line %q", rej.String())
	}
}
