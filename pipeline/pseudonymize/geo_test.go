package pseudonymize

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/enrich/iplookup"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/testkit"
)

// writeMMDB writes a one-network MaxMind database of dbType.
func writeMMDB(t *testing.T, path, dbType, cidr string, rec mmdbtype.Map) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR(cidr)
	if err := w.Insert(n, rec); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

// TestIPLookupFields runs the real enricher with all four IP lookups
// databases (built here) on a tracker event and pseudonymizes its output
// with the default allowlist: coarse geography and the connection class
// are kept, the city, postcode, ISP, organization and domain are
// pseudonymized, latitude and longitude cleared (docs/pseudonymizer.md
// says why). Free text in a kept geography column is pseudonymized.
func TestIPLookupFields(t *testing.T) {
	dir := t.TempDir()
	db := func(name string) string { return filepath.Join(dir, name+".mmdb") }
	en := func(s string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(s)} }
	const cidr = "81.2.69.0/24" // MaxMind test data uses it; documentation ranges are reserved in mmdbwriter
	writeMMDB(t, db("city"), "GeoIP2-City", cidr, mmdbtype.Map{
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String("DE"), "names": en("Germany")},
		"city":         mmdbtype.Map{"names": en("Kleinkleckersdorf")},
		"postal":       mmdbtype.Map{"code": mmdbtype.String("99999")},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("BW"), "names": en("Baden-Württemberg")}},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(48.7758), "longitude": mmdbtype.Float64(9.1829),
			"time_zone": mmdbtype.String("Europe/Berlin")},
	})
	writeMMDB(t, db("isp"), "GeoIP2-ISP", cidr, mmdbtype.Map{"isp": mmdbtype.String("Tiny Village Net"), "organization": mmdbtype.String("Wendy's Bakery GmbH")})
	writeMMDB(t, db("domain"), "GeoIP2-Domain", cidr, mmdbtype.Map{"domain": mmdbtype.String("wendys-bakery.example")})
	writeMMDB(t, db("conn"), "GeoIP2-Connection-Type", cidr, mmdbtype.Map{"connection_type": mmdbtype.String("Cable/DSL")})

	cfg := enrich.DefaultConfig()
	cfg.Version = "1.2.3"
	cfg.Registries = []enrich.RegistryConfig{{URI: filepath.Join(testkit.SharedDir(t), "iglu-central")}}
	cfg.Enrichments.IPLookups = enrich.IPLookupsConfig{Enabled: true,
		Config: iplookup.Config{Geo: db("city"), ISP: db("isp"), Domain: db("domain"), ConnectionType: db("conn")}}
	e, err := enrich.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
		"data": []any{map[string]string{"e": "pv", "p": "web", "tv": "js-4.10.1", "url": "https://gitlab.com/"}}})
	rec, _ := (&payload.CollectorPayload{IPAddress: "81.2.69.160", Timestamp: 1764151200123, Encoding: "UTF-8", Collector: "plowline-0.1.0",
		Path: "/com.snowplowanalytics.snowplow/tp2", Body: string(body), ContentType: "application/json", Hostname: "c.example.com"}).Marshal()
	out := e.Enrich(context.Background(), rec)
	if len(out.Good) != 1 {
		t.Fatalf("not enriched: %s", out.Bad)
	}
	in, err := event.ParseBytes(out.Good[0])
	if err != nil {
		t.Fatal(err)
	}
	// The enricher filled every column from the databases.
	want := map[event.Field]string{event.GeoCountry: "DE", event.GeoRegion: "BW", event.GeoRegionName: "Baden-Württemberg",
		event.GeoTimezone: "Europe/Berlin", event.IPNetspeed: "Cable/DSL", event.GeoCity: "Kleinkleckersdorf", event.GeoZipcode: "99999",
		event.IPIsp: "Tiny Village Net", event.IPOrganization: "Wendy's Bakery GmbH", event.IPDomain: "wendys-bakery.example",
		event.GeoLatitude: "48.7758", event.GeoLongitude: "9.1829"}
	for f, v := range want {
		if in[f] != v {
			t.Fatalf("enricher wrote %s = %q, want %q (the test's databases are not read as expected)", f.Name(), in[f], v)
		}
	}

	p := mustNew(t, "geo-key-0123456789abcdef0123456789")
	res, err := p.Transform(nil, out.Good[0])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := event.ParseBytes(res)
	for _, f := range []event.Field{event.GeoCountry, event.GeoRegion, event.GeoRegionName, event.GeoTimezone, event.IPNetspeed} {
		if got[f] != want[f] {
			t.Errorf("%s = %q, want %q kept", f.Name(), got[f], want[f])
		}
	}
	for _, f := range []event.Field{event.GeoCity, event.GeoZipcode, event.IPIsp, event.IPOrganization, event.IPDomain} {
		if got[f] != p.Pseudonym(want[f]) {
			t.Errorf("%s = %q, want the pseudonym of %q", f.Name(), got[f], want[f])
		}
	}
	for _, f := range []event.Field{event.GeoLatitude, event.GeoLongitude} {
		if got[f] != "" {
			t.Errorf("%s = %q, want cleared", f.Name(), got[f])
		}
	}

	// Free text where the kept geography goes is pseudonymized.
	for f, v := range map[event.Field]string{event.GeoCountry: "de", event.GeoRegion: "wendy", event.GeoRegionName: "wendy@example.com",
		event.GeoTimezone: "Europe/wendy@example.com", event.IPNetspeed: "wendy's line"} {
		ev := in
		ev[f] = v
		res, err := p.Transform(nil, ev.AppendTSV(nil))
		if err != nil {
			t.Fatal(err)
		}
		if g, _ := event.ParseBytes(res); g[f] != p.Pseudonym(v) {
			t.Errorf("%s = %q: got %q, want its pseudonym", f.Name(), v, g[f])
		}
	}
}
