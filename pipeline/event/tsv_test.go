package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/testkit"
)

func conformance(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.TestData(t), "conformance", "analytics-sdk", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func conformanceLine(t testing.TB) string {
	return strings.TrimRight(string(conformance(t, "full-event.tsv")), "\r\n")
}

func TestParseRoundTripConformance(t *testing.T) {
	line := conformanceLine(t)
	e, err := Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.AppendTSV(nil)); got != line {
		t.Fatalf("round trip differs:\n got %q\nwant %q", got, line)
	}
	if e[AppID] != "<>angry-birds" || e[EventID] != "c6ef3124-b53a-4b13-a233-0088f79dcbcb" || e[TrueTstamp] != "2013-11-26 00:03:57.885" {
		t.Fatalf("fields misplaced: app_id %q event_id %q true_tstamp %q", e[AppID], e[EventID], e[TrueTstamp])
	}
	if e.TSV() != line {
		t.Fatal("TSV() differs from the line")
	}
	b, err := ParseBytes([]byte(line))
	if err != nil || b != e {
		t.Fatalf("ParseBytes: %v", err)
	}
}

func TestJSONConformance(t *testing.T) {
	e, err := Parse(conformanceLine(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file string
		opts JSONOptions
	}{{"full-event.expected.json", JSONOptions{}}, {"full-event.expected-with-geo.json", JSONOptions{Geo: true}}} {
		got, err := e.AppendJSON(nil, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		var gv, wv any
		if err := json.Unmarshal(got, &gv); err != nil {
			t.Fatalf("our JSON is invalid: %v\n%s", err, got)
		}
		if err := json.Unmarshal(conformance(t, c.file), &wv); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gv, wv) {
			gm, wm := gv.(map[string]any), wv.(map[string]any)
			for k := range wm {
				if !reflect.DeepEqual(gm[k], wm[k]) {
					t.Errorf("%s: key %s = %v, want %v", c.file, k, gm[k], wm[k])
				}
			}
			for k := range gm {
				if _, ok := wm[k]; !ok {
					t.Errorf("%s: unexpected key %s", c.file, k)
				}
			}
		}
	}
	m, err := e.ToMap(JSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := m["txn_id"].(json.Number); !ok || n.String() != "41828" {
		t.Fatalf("ToMap txn_id = %#v", m["txn_id"])
	}
}

func TestParseErrorsNameFieldAndOffset(t *testing.T) {
	base, err := Parse(conformanceLine(t))
	if err != nil {
		t.Fatal(err)
	}
	set := func(f Field, v string) string {
		e := base
		e[f] = v
		return e.TSV()
	}
	offsetOf := func(line string, f Field) int {
		off := 0
		for i := Field(0); i < f; i++ {
			off += strings.IndexByte(line[off:], '\t') + 1
		}
		return off
	}
	cases := []struct {
		name  string
		line  string
		field Field
		want  string
	}{
		{"bad collector timestamp", set(CollectorTstamp, "2013-11-26T00:03:57Z"), CollectorTstamp, "field 4 (collector_tstamp)"},
		{"month 13", set(EtlTstamp, "2013-13-26 00:03:57.885"), EtlTstamp, "field 3 (etl_tstamp)"},
		{"bad contexts json", set(Contexts, `{"schema":`), Contexts, "field 53 (contexts)"},
		{"bad unstruct json", set(UnstructEvent, `{]`), UnstructEvent, "field 59 (unstruct_event)"},
		{"bad derived contexts", set(DerivedContexts, `nope`), DerivedContexts, "field 123 (derived_contexts)"},
		{"bad true tstamp", set(TrueTstamp, "yesterday"), TrueTstamp, "field 131 (true_tstamp)"},
	}
	for _, c := range cases {
		_, err := Parse(c.line)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: error %v, want *FieldError", c.name, err)
		}
		if fe.Field != c.field || fe.Offset != offsetOf(c.line, c.field) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got field %v offset %d (%v), want %v at %d", c.name, fe.Field, fe.Offset, err, c.field, offsetOf(c.line, c.field))
		}
	}
	for _, n := range []int{0, 1, 130, 132, 200} {
		line := strings.Repeat("\t", max(n-1, 0))
		if _, err := Parse(line); err == nil || !strings.Contains(err.Error(), "fields") {
			t.Errorf("%d fields: err %v, want a field-count error", n, err)
		}
	}
}

func TestTimestampVariants(t *testing.T) {
	good := []string{"2013-11-26 00:03:57.885", "2013-11-26 00:03:57", "2013-11-26 00:03:57.8", "2013-11-26 23:59:59.123456789"}
	bad := []string{"2013-11-26 00:03:57.", "2013-11-26 24:00:00", "2013-11-26T00:03:57.885", "2013-11-26 00:03:57.885Z", "13-11-26 00:03:57", "2013-11-26 00:03:57.1234567890"}
	for _, s := range good {
		if !ValidTimestamp(s) {
			t.Errorf("%q rejected", s)
		}
	}
	for _, s := range bad {
		if ValidTimestamp(s) {
			t.Errorf("%q accepted", s)
		}
	}
	var e Event
	e[CollectorTstamp] = "2013-11-26 00:03:57"
	m, err := e.ToMap(JSONOptions{})
	if err != nil || m["collector_tstamp"] != "2013-11-26T00:03:57Z" {
		t.Fatalf("timestamp without millis: %v %v", m["collector_tstamp"], err)
	}
}

func TestJSONTypeErrors(t *testing.T) {
	for f, v := range map[Field]string{TxnID: "12x", GeoLatitude: "north", BrCookies: "yes", Contexts: `{"schema":"x","data":[]}`,
		UnstructEvent: `{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"schema":"iglu:a/b/c/1-0","data":{}}}`} {
		var e Event
		e[f] = v
		_, err := e.JSON()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != f {
			t.Errorf("%s=%q: err %v, want a FieldError on it", f, v, err)
		}
		if strings.Contains(err.Error(), v) {
			t.Errorf("error quotes the value: %v", err)
		}
	}
}

func TestDerivedAndContextsMerge(t *testing.T) {
	var e Event
	e[Contexts] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.acme/HTTPRequest-info/jsonschema/2-1-0","data":{"a":1}}]}`
	e[DerivedContexts] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.acme/HTTPRequest-info/jsonschema/2-0-0","data":{"a":2}}]}`
	m, err := e.ToMap(JSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	arr, ok := m["contexts_com_acme_httprequest_info_2"].([]any)
	if !ok || len(arr) != 2 {
		t.Fatalf("merged column = %#v (map %v)", m["contexts_com_acme_httprequest_info_2"], m)
	}
}

func TestColumnName(t *testing.T) {
	for uri, want := range map[string]string{
		"iglu:org.w3/PerformanceTiming/jsonschema/1-0-0":                     "contexts_org_w3_performance_timing_1",
		"iglu:org.schema/WebPage/jsonschema/1-0-0":                           "contexts_org_schema_web_page_1",
		"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9":                   "contexts_com_gitlab_gitlab_standard_1",
		"iglu:com.google.tag-manager.server-side/user_data/jsonschema/2-0-0": "contexts_com_google_tag_manager_server_side_user_data_2",
	} {
		k, err := ParseSchemaKey(uri)
		if err != nil {
			t.Fatal(err)
		}
		if got := k.ColumnName("contexts"); got != want {
			t.Errorf("%s → %s, want %s", uri, got, want)
		}
		if k.String() != uri {
			t.Errorf("String() = %s, want %s", k, uri)
		}
	}
	for _, bad := range []string{"", "iglu:a/b/c", "iglu:a/b/c/1-0", "iglu:a/b/c/1-0-x", "iglu:a b/c/d/1-0-0", "http:a/b/c/1-0-0", "iglu:a/b/c/01-0-0"} {
		if _, err := ParseSchemaKey(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestFieldOf(t *testing.T) {
	line := conformanceLine(t)
	e, _ := Parse(line)
	for f := Field(0); f < NumFields; f++ {
		v, ok := FieldOf(line, f)
		if !ok || v != e[f] {
			t.Fatalf("FieldOf(%s) = %q, %v; want %q", f, v, ok, e[f])
		}
		b, ok := FieldOfBytes([]byte(line), f)
		if !ok || string(b) != e[f] {
			t.Fatalf("FieldOfBytes(%s) = %q", f, b)
		}
	}
	if _, ok := FieldOf("a\tb", CollectorTstamp); ok {
		t.Fatal("FieldOf past the end reported ok")
	}
	if _, ok := FieldOf(line, NumFields); ok {
		t.Fatal("FieldOf(NumFields) reported ok")
	}
}

func TestParseDoesNotAllocatePerField(t *testing.T) {
	line := conformanceLine(t)
	var e Event
	allocs := testing.AllocsPerRun(200, func() {
		if err := ParseInto(&e, line); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ParseInto allocates %.1f times per line, want 0", allocs)
	}
	dst := make([]byte, 0, 4096)
	allocs = testing.AllocsPerRun(200, func() { dst = e.AppendTSV(dst[:0]) })
	if allocs != 0 {
		t.Fatalf("AppendTSV allocates %.1f times per line", allocs)
	}
	if !bytes.Equal(dst, []byte(line)) {
		t.Fatal("AppendTSV differs")
	}
}

func BenchmarkParse(b *testing.B) {
	line := conformanceLine(b)
	var e Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseInto(&e, line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSON(b *testing.B) {
	e, _ := Parse(conformanceLine(b))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = e.AppendJSON(dst[:0], JSONOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestJSONLenient(t *testing.T) {
	var e Event
	e[GeoLatitude], e[TxnID], e[BrCookies], e[DerivedTstamp] = "ab12", "cd34", "ef", "gh"
	if _, err := e.JSON(); err == nil {
		t.Fatal("strict JSON accepted hex in typed fields")
	}
	m, err := e.ToMap(JSONOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if m["geo_latitude"] != "ab12" || m["txn_id"] != "cd34" || m["br_cookies"] != "ef" || m["derived_tstamp"] != "gh" {
		t.Fatalf("lenient map = %v", m)
	}
}

func TestCollectorTime(t *testing.T) {
	line := conformanceLine(t)
	got, err := CollectorTime(line)
	if err != nil || !got.Equal(time.Date(2013, 11, 26, 0, 3, 57, 885e6, time.UTC)) {
		t.Fatalf("CollectorTime = %v, %v", got, err)
	}
	e, _ := Parse(line)
	for v, want := range map[string]string{"": "empty", "2013-02-31 00:00:00": "calendar", "x": "not a timestamp"} {
		e[CollectorTstamp] = v
		if _, err := CollectorTime(e.TSV()); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "collector_tstamp") {
			t.Errorf("%q: %v", v, err)
		}
	}
	if _, err := CollectorTime("a\tb"); err == nil {
		t.Error("short line accepted")
	}
	if ts, err := ParseTimestamp("2013-11-26 00:03:57"); err != nil || ts.Second() != 57 {
		t.Errorf("no-millis timestamp: %v %v", ts, err)
	}
}
