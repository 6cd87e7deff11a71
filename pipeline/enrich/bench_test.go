package enrich

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
)

// agents is a realistic repeating set of ~50 user agents: current desktop
// and mobile browsers in a few versions each, and some bots.
var agents = func() []string {
	var out []string
	for _, v := range []string{"118", "119", "120", "121", "122", "123", "124", "125"} {
		out = append(out,
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/"+v+".0.0.0 Safari/537.36",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/"+v+".0.0.0 Safari/537.36",
			"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/"+v+".0.0.0 Safari/537.36",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/"+v+".0.0.0 Safari/537.36 Edg/"+v+".0.0.0",
		)
	}
	for _, v := range []string{"120.0", "121.0", "122.0", "123.0", "124.0", "125.0"} {
		out = append(out,
			"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:"+v+") Gecko/20100101 Firefox/"+v,
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:"+v+") Gecko/20100101 Firefox/"+v)
	}
	for _, v := range []string{"16_6", "17_1", "17_4"} {
		out = append(out,
			"Mozilla/5.0 (iPhone; CPU iPhone OS "+v+" like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/"+v[:2]+".0 Safari/605.1.15")
	}
	out = append(out,
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	)
	return out
}()

// gitlabPageView is a typical GitLab frontend page view as the browser
// tracker sends it: tp2 POST, web_page and GitLab standard contexts in cx.
func gitlabPageView(b testing.TB, i int) []byte {
	cx := base64.RawURLEncoding.EncodeToString([]byte(contextsJSON(
		webPage(fmt.Sprintf("1f3a44c2-5d7e-4c1b-9a34-%012d", i%1000)),
		`{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":"production","source":"gitlab-javascript","plan":"premium","extra":{"feature":"issues_list"},"user_id":null,"project_id":278964,"namespace_id":9970,"ultimate_parent_namespace_id":9970,"is_gitlab_team_member":false,"feature_enabled_by_namespace_ids":null,"google_analytics_id":null,"context_generated_at":"2025-11-26T09:59:59.123Z","realm":"saas","instance_id":"ea8bf810-1d6f-4a6a-b4fd-93e8cbd8b57f","host_name":"gitlab-webservice-7d9c","instance_version":"17.6.0","correlation_id":"01JDXYZABCDEF"}}`)))
	ev := map[string]string{
		"e": "pv", "p": "web", "tv": "js-3.24.2", "tna": "gl", "aid": "gitlab",
		"eid": fmt.Sprintf("c6ef3124-b53a-4b13-a233-%012d", i), "dtm": strconv.Itoa(1764151199000 + i%1000), "stm": "1764151199900",
		"duid": "8a3e0c1d-7d2b-4ad8-9d24-1c8f2b9e0f00", "vid": "12", "sid": "2b15e5c8-d3b1-41e4-b9d6-1681e6b88ec1",
		"url":  "https://gitlab.com/gitlab-org/gitlab/-/issues?sort=created_date&state=opened&utm_source=docs",
		"refr": "https://www.google.com/search?q=gitlab+issue+boards", "page": "Issues · GitLab.org / GitLab · GitLab",
		"lang": "en-US", "cs": "UTF-8", "tz": "Europe/Berlin", "res": "2560x1440", "vp": "1440x900", "ds": "1425x5321", "cd": "24", "cookie": "1",
		"cx": cx,
	}
	rec := post(b, ev)
	p, _ := payload.Unmarshal(rec)
	p.UserAgent = agents[i%len(agents)]
	out, _ := p.Marshal()
	return out
}

// BenchmarkEnrichGitLabPageView measures one core enriching typical GitLab
// page views (UA parsing, referer, campaign, fingerprint and validation
// on). Report events/s = 1e9 / ns/op. Run with -cpu 1.
func BenchmarkEnrichGitLabPageView(b *testing.B) {
	e, _ := newTestEnricher(b)
	recs := make([][]byte, 2000)
	for i := range recs {
		recs[i] = gitlabPageView(b, i)
	}
	ctx := context.Background()
	// Steady state: every agent of the set seen once (a cold parse costs
	// milliseconds; real traffic repeats its agents, so the cache is warm).
	for i := range agents {
		if out := e.Enrich(ctx, recs[i]); len(out.Good) != 1 {
			b.Fatalf("benchmark input does not enrich: %s", out.Bad)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		out := e.Enrich(ctx, recs[i%len(recs)])
		if len(out.Good) != 1 {
			b.Fatal("bad output")
		}
	}
	reportRates(b, b.N, cpuTime()-cpu0)
}

// BenchmarkEnrichGitLabPageViewNoUA is the same without UA parsing and
// validation's ratio partner: compare in one run to see what they cost.
func BenchmarkEnrichGitLabPageViewNoUA(b *testing.B) {
	e, _ := newTestEnricher(b, func(c *Config) { c.Enrichments.UAParser.Enabled = false })
	recs := make([][]byte, 2000)
	for i := range recs {
		recs[i] = gitlabPageView(b, i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		e.Enrich(ctx, recs[i%len(recs)])
	}
	reportRates(b, b.N, cpuTime()-cpu0)
}

// BenchmarkEnrichBatch50 is a tp2 POST of 50 page views (what the browser
// tracker sends when it flushes a full buffer), per event.
func BenchmarkEnrichBatch50(b *testing.B) {
	e, _ := newTestEnricher(b)
	ev := map[string]string{"e": "pv", "p": "web", "tv": "js-3.24.2", "url": "https://gitlab.com/x",
		"cx": base64.StdEncoding.EncodeToString([]byte(contextsJSON(webPage(webPageID), gitlabContext)))}
	evs := make([]map[string]string, 50)
	for i := range evs {
		evs[i] = ev
	}
	rec := post(b, evs...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if out := e.Enrich(ctx, rec); len(out.Good) != 50 {
			b.Fatalf("%d good", len(out.Good))
		}
	}
	reportRates(b, b.N*50, cpuTime()-cpu0)
}

// reportRates reports events per wall-clock second and, where the CPU
// time is known, per CPU second: with -cpu 1 the latter is what one core
// sustains, however busy the machine is.
func reportRates(b *testing.B, events int, cpu time.Duration) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	}
}

// benchGeoDB writes City and ISP databases of 4096 networks each (a
// real GeoLite2 City has millions; lookup cost grows with the tree's
// depth, ~log2 of the networks, not with their count).
func benchGeoDB(b *testing.B) (geo, isp string) {
	dir := b.TempDir()
	geo, isp = filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "isp.mmdb")
	for _, db := range []struct {
		path, typ string
		rec       func(i int) mmdbtype.Map
	}{
		{geo, "GeoIP2-City", func(i int) mmdbtype.Map {
			return mmdbtype.Map{
				"country":      mmdbtype.Map{"iso_code": mmdbtype.String("DE"), "names": mmdbtype.Map{"en": mmdbtype.String("Germany")}},
				"city":         mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(fmt.Sprintf("City %d", i)), "de": mmdbtype.String("Stadt")}},
				"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("BE"), "names": mmdbtype.Map{"en": mmdbtype.String("Land Berlin")}}},
				"postal":       mmdbtype.Map{"code": mmdbtype.String("10115")},
				"location": mmdbtype.Map{"latitude": mmdbtype.Float64(52.52), "longitude": mmdbtype.Float64(13.405),
					"time_zone": mmdbtype.String("Europe/Berlin"), "accuracy_radius": mmdbtype.Uint16(20)},
			}
		}},
		{isp, "GeoIP2-ISP", func(i int) mmdbtype.Map {
			return mmdbtype.Map{"isp": mmdbtype.String(fmt.Sprintf("ISP %d", i%50)), "organization": mmdbtype.String(fmt.Sprintf("Org %d", i%200))}
		}},
	} {
		w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: db.typ, RecordSize: 28})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 4096 {
			_, n, _ := net.ParseCIDR(fmt.Sprintf("%d.%d.%d.0/24", 81+i/4096, (i/16)%256, (i*17)%256))
			if err := w.Insert(n, db.rec(i)); err != nil {
				b.Fatal(err)
			}
		}
		f, err := os.Create(db.path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.WriteTo(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	return geo, isp
}

// BenchmarkEnrichGitLabPageViewIPLookups is BenchmarkEnrichGitLabPageView
// with IP lookups (City and ISP databases) on as well as the atomic UA
// fields; client addresses vary over the databases' networks.
func BenchmarkEnrichGitLabPageViewIPLookups(b *testing.B) {
	geo, isp := benchGeoDB(b)
	e, _ := newTestEnricher(b, func(c *Config) {
		c.Enrichments.IPLookups.Enabled, c.Enrichments.IPLookups.Geo, c.Enrichments.IPLookups.ISP = true, geo, isp
	})
	benchPageViews(b, e, true)
}

// BenchmarkEnrichGitLabPageViewNoNewFields is the ratio partner: neither IP
// lookups nor the atomic UA fields (the enricher as it was before them).
func BenchmarkEnrichGitLabPageViewNoNewFields(b *testing.B) {
	e, _ := newTestEnricher(b, func(c *Config) { c.Enrichments.UAAtomicFields.Enabled = false })
	benchPageViews(b, e, false)
}

func benchPageViews(b *testing.B, e *Enricher, wantGeo bool) {
	recs := make([][]byte, 2000)
	for i := range recs {
		p, _ := payload.Unmarshal(gitlabPageView(b, i))
		p.IPAddress = fmt.Sprintf("%d.%d.%d.%d", 81, (i/16)%256, (i*17)%256, i%250+1)
		recs[i], _ = p.Marshal()
	}
	ctx := context.Background()
	for i := range agents {
		out := e.Enrich(ctx, recs[i])
		if len(out.Good) != 1 {
			b.Fatalf("benchmark input does not enrich: %s", out.Bad)
		}
		if ev, _ := event.Parse(string(out.Good[0])); wantGeo && ev[event.GeoCountry] != "DE" {
			b.Fatalf("no geo fields: %q", ev[event.GeoCountry])
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if out := e.Enrich(ctx, recs[i%len(recs)]); len(out.Good) != 1 {
			b.Fatal("bad output")
		}
	}
	reportRates(b, b.N, cpuTime()-cpu0)
}
