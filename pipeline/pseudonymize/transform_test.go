package pseudonymize

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/testkit"
)

// oracle computes a pseudonym independently of the package.
func oracle(key, v string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

func conformanceLine(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.TestData(t), "conformance", "analytics-sdk", "full-event.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimRight(b, "\r\n")
}

func TestTransformConformanceEvent(t *testing.T) {
	const key = "conformance-key"
	p := mustNew(t, key)
	out, err := p.Transform(nil, conformanceLine(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := event.Parse(string(out))
	if err != nil {
		t.Fatalf("output is not an enriched event: %v", err)
	}
	in, _ := event.Parse(string(conformanceLine(t)))
	for f := event.Field(0); f < event.NumFields; f++ {
		switch {
		case in[f] == "":
			if e[f] != "" {
				t.Errorf("%s: empty became %q", f, e[f])
			}
		case f.Kind() == event.KindContexts || f.Kind() == event.KindUnstruct:
		case f.Kind() != event.KindString && !DefaultAllowlist().KeepsField(f):
			// Typed columns are never pseudonymized: cleared unless kept.
			if e[f] != "" {
				t.Errorf("%s: typed column not kept holds %q, want it cleared", f, e[f])
			}
		case DefaultAllowlist().KeepsField(f) && (DefaultAllowlist().fieldCheck[f] == nil || DefaultAllowlist().fieldCheck[f](in[f])):
			if e[f] != in[f] {
				t.Errorf("%s: kept field changed to %q", f, e[f])
			}
		default:
			if e[f] != oracle(key, in[f]) {
				t.Errorf("%s = %q, want HMAC of %q", f, e[f], in[f])
			}
		}
	}
	if e[event.EventID] != "c6ef3124-b53a-4b13-a233-0088f79dcbcb" || e[event.AppID] != "<>angry-birds" {
		t.Error("event_id and app_id must stay in clear (the exporter's canary relies on them)")
	}
	// Contexts: PerformanceTiming and ua_parser kept whole; WebPage author
	// pseudonymized, genre kept; link_click targetUrl pseudonymized.
	m, err := e.ToMap(event.JSONOptions{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	page := m["contexts_org_schema_web_page_1"].([]any)[0].(map[string]any)
	// Keys the allowlist does not name are pseudonymized like values.
	if page["genre"] != "blog" || page[oracle(key, "author")] != oracle(key, "Fred Blundun") ||
		page[oracle(key, "breadcrumb")].([]any)[1] != oracle(key, "releases") || page["author"] != nil {
		t.Errorf("web_page = %v", page)
	}
	timing := m["contexts_org_w3_performance_timing_1"].([]any)[0].(map[string]any)
	if timing["navigationStart"].(json.Number) != "1415358089861" {
		t.Errorf("performance timing = %v", timing)
	}
	ua := m["contexts_com_snowplowanalytics_snowplow_ua_parser_context_1"].([]any)[0].(map[string]any)
	// IE is a family today's ua-parser rules name; "Windows XP" (an older
	// rules file's family: today's say "Windows") is not, so it is
	// pseudonymized like free text.
	if ua["useragentFamily"] != "IE" || ua["useragentMajor"] != "7" || ua["osMajor"] != nil ||
		ua["osFamily"] != oracle(key, "Windows XP") || ua["deviceFamily"] != "Other" {
		t.Errorf("ua_parser_context = %v", ua)
	}
	click := m["unstruct_event_com_snowplowanalytics_snowplow_link_click_1"].(map[string]any)
	if click[oracle(key, "targetUrl")] != oracle(key, "http://www.example.com") || click["elementId"] != "exampleLink" {
		t.Errorf("link_click = %v", click)
	}
}

func TestTransformJSONLeaves(t *testing.T) {
	const key = "leaf-key"
	p := mustNew(t, key)
	h := func(v string) string { return `"` + oracle(key, v) + `"` }
	row := `{"schema":"iglu:com.acme/not_a_bad_row/jsonschema/1-0-0","data":{"s":"x\/y\u00e9\ud83d\ude00","n":-1.5e3,"t":true,"f":false,"z":null,"e":"","a":[1,"b",[]],"o":{}},"extra":"q"}`
	out, err := p.Transform(nil, []byte(row+"\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Not a bad-row schema: nothing is trusted, keys and the schema string
	// included (only the self-describing envelope's own keys stay).
	want := `{"schema":` + h("iglu:com.acme/not_a_bad_row/jsonschema/1-0-0") + `,"data":{` + h("s") + `:` + h("x/yé😀") + `,` + h("n") + `:` + h("-1.5e3") + `,` + h("t") + `:` + h("true") +
		`,` + h("f") + `:` + h("false") + `,` + h("z") + `:null,` + h("e") + `:"",` + h("a") + `:[` + h("1") + `,` + h("b") + `,[]],` + h("o") + `:{}},` + h("extra") + `:` + h("q") + `}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	// Without a valid Iglu schema the schema string itself is pseudonymized.
	out, err = p.Transform(nil, []byte(` {"data":{"a":1},"schema":"http://not-iglu/x"} `[1:]))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"data":{` + h("a") + `:` + h("1") + `},"schema":` + h("http://not-iglu/x") + `}`; string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

func TestTransformErrors(t *testing.T) {
	p := mustNew(t, "k")
	good := conformanceLine(t)
	e, _ := event.Parse(string(good))
	withField := func(f event.Field, v string) []byte {
		x := e
		x[f] = v
		return x.AppendTSV(nil)
	}
	cases := map[string][]byte{
		"garbage":          []byte("secret-garbage-value"),
		"empty":            {},
		"too few fields":   bytes.Repeat([]byte("secret\t"), 50),
		"too many fields":  append(append([]byte{}, good...), "\tsecret-extra"...),
		"bad contexts":     withField(event.Contexts, `{"schema":"secret-ctx`),
		"trailing data":    withField(event.UnstructEvent, `{"schema":"x","data":1} secret`),
		"bad json row":     []byte(`{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"secret-key":tru}}`),
		"deep json":        []byte(strings.Repeat("[", 300) + strings.Repeat("]", 300)),
		"deep json row":    []byte(`{"data":` + strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat("}", 301)),
		"control char":     []byte("{\"data\":\"secret\x01\"}"),
		"bad escape":       []byte(`{"data":"secret\q"}`),
		"unterminated row": []byte(`{"data":"secret`),
	}
	for name, line := range cases {
		dst := []byte("keep-me")
		out, err := p.Transform(dst, line)
		if err == nil {
			t.Errorf("%s: no error (output %q)", name, out)
			continue
		}
		if string(out) != "keep-me" {
			t.Errorf("%s: dst not restored: %q", name, out)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error quotes the input: %v", name, err)
		}
	}
	// A malformed typed column is cleared, never pseudonymized or kept.
	out, err := p.Transform(nil, withField(event.CollectorTstamp, "2013-99-26 secret"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := event.FieldOfBytes(out, event.CollectorTstamp); len(v) != 0 {
		t.Errorf("malformed collector_tstamp became %q, want it cleared", v)
	}
}

func TestNewRejectsEmptyKey(t *testing.T) {
	if _, err := New(DefaultAllowlist(), nil); err == nil {
		t.Fatal("empty key accepted")
	}
	if _, err := New(nil, []byte("k")); err == nil {
		t.Fatal("nil allowlist accepted")
	}
	p := mustNew(t, "super-secret-key-material")
	for _, s := range []string{p.String(), p.GoString()} {
		if strings.Contains(s, "super-secret") {
			t.Fatalf("key printed: %s", s)
		}
	}
}

func TestTransformConcurrent(t *testing.T) {
	p := mustNew(t, "k")
	line := conformanceLine(t)
	want, _ := p.Transform(nil, line)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := 0; i < 200; i++ {
				var err error
				buf, err = p.Transform(buf[:0], line)
				if err != nil || !bytes.Equal(buf, want) {
					t.Errorf("concurrent transform differs: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestTransformAllocations(t *testing.T) {
	p := mustNew(t, "k")
	line := benchLine(t)
	dst := make([]byte, 0, 16<<10)
	p.Transform(dst, line)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.Transform(dst[:0], line); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("Transform allocates %.1f times per event in steady state, want 0", allocs)
	}
}

// TestPseudonymCacheIsExact: with far more distinct values than cache
// slots, every pseudonym still equals the HMAC (hits need the exact bytes).
func TestPseudonymCacheIsExact(t *testing.T) {
	p := mustNew(t, "memo-key")
	r := seeded(t)
	values := make([]string, 3*memoSlots)
	for i := range values {
		values[i] = fmt.Sprintf("v%d-%d", i, r.IntN(1000))
		if i%7 == 0 {
			values[i] = values[i][:2] // short values collide on prefixes
		}
	}
	for round := 0; round < 2; round++ {
		for _, i := range r.Perm(len(values)) {
			if got := p.Pseudonym(values[i]); got != oracle("memo-key", values[i]) {
				t.Fatalf("pseudonym of %q wrong on round %d", values[i], round)
			}
		}
	}
}

// TestNextSpecial checks the SWAR scan against a byte-by-byte one for every
// position of every special byte in words of varied content.
func TestNextSpecial(t *testing.T) {
	fill := []byte("abcdefghijklmnopqrstuvwxyz\x7f\x80\xff é!#")
	for n := 0; n < 40; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range []byte{'"', '\\', 0x00, 0x1f, '\n'} {
				b := make([]byte, n)
				for i := range b {
					b[i] = fill[(i*7+n)%len(fill)]
				}
				want := n
				if pos < n {
					b[pos] = sp
					want = pos
				}
				for start := 0; start <= n; start++ {
					w := want
					if start > want {
						w = n
						for k := start; k < n; k++ {
							if c := b[k]; c == '"' || c == '\\' || c < 0x20 {
								w = k
								break
							}
						}
					}
					if got := nextSpecial(b, start); got != w {
						t.Fatalf("nextSpecial(%q, %d) = %d, want %d", b, start, got, w)
					}
				}
			}
		}
	}
}
