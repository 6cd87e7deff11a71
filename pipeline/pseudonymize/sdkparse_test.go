package pseudonymize

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/pipeline/pseudonymize/sdkparse"
	"github.com/plowline/plowline/testkit"
)

// TestPseudonymizedOutputParsesWithSDKRules: the conformance event, the
// enricher's output for tracker-shaped traffic (page views with http(s)
// URLs and ports, transactions, structured events, GitLab contexts) and
// generated events all parse with the SDK's rules after pseudonymization,
// and the check itself refuses a hex pseudonym in a typed column.
func TestPseudonymizedOutputParsesWithSDKRules(t *testing.T) {
	p := mustNew(t, "sdk-parse-key-0123456789abcdef01")
	var lines [][]byte
	lines = append(lines, conformanceLine(t), benchLine(t))

	cfg := enrich.DefaultConfig()
	cfg.Version = "1.2.3"
	cfg.Registries = []enrich.RegistryConfig{{URI: filepath.Join(testkit.SharedDir(t), "iglu-central")}}
	e, err := enrich.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	events := []map[string]string{
		{"e": "pv", "url": "https://gitlab.example.com:8443/group/project/-/issues?x=1", "refr": "https://www.google.com/search?q=gitlab", "page": "Issues"},
		{"e": "pv", "url": "http://localhost:3000/", "res": "1920x1080", "vp": "1200x800", "cd": "24", "lang": "en-US", "cs": "UTF-8"},
		{"e": "se", "se_ca": "projects", "se_ac": "click", "se_la": "button", "se_va": "12.5", "url": "https://gitlab.com/"},
		{"e": "tr", "tr_id": "order-1", "tr_tt": "99.95", "tr_tx": "5.00", "tr_sh": "3.5", "tr_cu": "EUR", "url": "https://shop.example/"},
		{"e": "ti", "ti_id": "order-1", "ti_sk": "sku", "ti_pr": "19.99", "ti_qu": "2", "ti_cu": "EUR"},
		{"e": "pp", "pp_mix": "0", "pp_max": "10", "pp_miy": "0", "pp_may": "900", "url": "https://gitlab.com/a"},
	}
	for _, ev := range events {
		ev["p"], ev["tv"], ev["aid"], ev["uid"], ev["duid"] = "web", "js-4.10.1", "gitlab", "user-1", "d-1"
		ev["dtm"], ev["stm"] = "1764151199000", "1764151199500"
		ev["co"] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"1f3a44c2-5d7e-4c1b-9a34-6b0e7d2f8a11"}}]}`
		body, _ := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": []any{ev}})
		cp := &payload.CollectorPayload{IPAddress: "198.51.100.20", Timestamp: 1764151200123, Encoding: "UTF-8", Collector: "plowline-0.1.0",
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
			Path:      "/com.snowplowanalytics.snowplow/tp2", Body: string(body), ContentType: "application/json; charset=utf-8", Hostname: "c.example.com"}
		rec, _ := cp.Marshal()
		out := e.Enrich(context.Background(), rec)
		if len(out.Good) != 1 {
			t.Fatalf("%v: not enriched: %s", ev, out.Bad)
		}
		lines = append(lines, out.Good[0])
	}
	for _, l := range lines {
		out, err := p.Transform(nil, l)
		if err != nil {
			t.Fatal(err)
		}
		if err := sdkparse.Check(string(out)); err != nil {
			t.Errorf("pseudonymized event refused by the SDK rules: %v", err)
		}
	}
	// Generated events hold random text in typed columns and hostile JSON
	// (repeated keys, a non-wrapper at the top) that the enricher refuses;
	// after pseudonymization no typed column may be what the SDK refuses.
	r := rand.New(rand.NewPCG(7, 11))
	typedOK, gen := 0, 0
	for gen < 200 {
		g := generate(r)
		if g.line[0] == '{' {
			continue
		}
		gen++
		out, err := p.Transform(nil, g.line)
		if err != nil {
			t.Fatal(err)
		}
		if err := sdkparse.Check(string(out)); err != nil && !strings.HasPrefix(err.Error(), "contexts") {
			t.Errorf("generated event: typed column refused after pseudonymization: %v", err)
		} else {
			typedOK++
		}
	}
	t.Logf("%d conformance/enriched events parse with the SDK rules after pseudonymization; %d/%d generated events' typed columns parse", len(lines), typedOK, gen)
	bad, _ := event.Parse(string(conformanceLine(t)))
	bad[event.PageURLPort] = p.Pseudonym("80")
	if sdkparse.Check(string(bad.AppendTSV(nil))) == nil {
		t.Error("the SDK check accepts a pseudonym in page_urlport")
	}
}
