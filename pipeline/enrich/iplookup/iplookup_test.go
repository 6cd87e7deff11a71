package iplookup

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// WriteDB writes a small MaxMind DB of the given type: tests build their
// own databases rather than ship MaxMind's.
func writeDB(t testing.TB, path, dbType string, records map[string]mmdbtype.Map) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 28})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func enNames(en string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(en)} }

// changchun is the record of IpLookupsEnrichmentSpec's "valid IP address"
// case (175.16.199.0 in MaxMind's test City database).
func changchun() mmdbtype.Map {
	return mmdbtype.Map{
		"country":      mmdbtype.Map{"iso_code": mmdbtype.String("CN"), "names": enNames("China")},
		"city":         mmdbtype.Map{"names": enNames("Changchun")},
		"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("22"), "names": enNames("Jilin Sheng")}},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(43.88), "longitude": mmdbtype.Float64(125.3228),
			"time_zone": mmdbtype.String("Asia/Harbin"), "accuracy_radius": mmdbtype.Uint16(100)},
	}
}

// IpLookupsEnrichmentSpec e1 (location, with and without a port, and the
// addresses that are not found) and e2 (ISP of 70.46.123.145).
func TestLookupAsSnowplowSpec(t *testing.T) {
	dir := t.TempDir()
	geo, isp := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "isp.mmdb")
	writeDB(t, geo, "GeoIP2-City", map[string]mmdbtype.Map{"175.16.199.0/24": changchun()})
	writeDB(t, isp, "GeoIP2-ISP", map[string]mmdbtype.Map{"70.46.0.0/16": {"isp": mmdbtype.String("FDN Communications"),
		"organization": mmdbtype.String("FDN Communications")}})
	l, err := Open(Config{Geo: geo, ISP: isp})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Country: "CN", Region: "22", City: "Changchun", RegionName: "Jilin Sheng", Timezone: "Asia/Harbin",
		Latitude: "43.88", Longitude: "125.3228"}
	for _, ip := range []string{"175.16.199.0", "175.16.199.0:8080", "::ffff:175.16.199.0"} {
		if got, ok := l.Lookup(ip); !ok || got != want {
			t.Errorf("%s: %+v %v, want %+v", ip, got, ok, want)
		}
	}
	for _, ip := range []string{"", "localhost", "hello", "175.16.199.x"} {
		if got, ok := l.Lookup(ip); ok || got != (Result{}) {
			t.Errorf("%q: %+v %v, want not an address", ip, got, ok)
		}
	}
	if got, ok := l.Lookup("192.0.2.1"); !ok || got != (Result{}) {
		t.Errorf("address in no network: %+v", got)
	}
	if got, _ := l.Lookup("70.46.123.145"); got.ISP != "FDN Communications" || got.Organization != "FDN Communications" || got.Country != "" {
		t.Errorf("ISP lookup: %+v", got)
	}
}

func TestReloadWhenTheFileChanges(t *testing.T) {
	dir := t.TempDir()
	geo := filepath.Join(dir, "city.mmdb")
	writeDB(t, geo, "GeoIP2-City", map[string]mmdbtype.Map{"175.16.199.0/24": changchun()})
	l, err := Open(Config{Geo: geo, CheckInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Lookup("175.16.199.1"); got.City != "Changchun" {
		t.Fatalf("before: %+v", got)
	}
	moved := changchun()
	moved["city"] = mmdbtype.Map{"names": enNames("Jilin City")}
	moved["postal"] = mmdbtype.Map{"code": mmdbtype.String("132000")}
	writeDB(t, geo, "GeoIP2-City", map[string]mmdbtype.Map{"175.16.199.0/24": moved})
	// A replacement may share the old file's second: make the change visible.
	os.Chtimes(geo, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	time.Sleep(time.Millisecond)
	if got, _ := l.Lookup("175.16.199.1"); got.City != "Jilin City" || got.Zipcode != "132000" {
		t.Errorf("after the file changed: %+v", got)
	}
	if r := l.Reloads(); r[0] != 1 {
		t.Errorf("reloads %v", r)
	}
	// A broken replacement keeps the last good data.
	os.WriteFile(geo, []byte("half a download"), 0o644)
	os.Chtimes(geo, time.Now().Add(2*time.Minute), time.Now().Add(2*time.Minute))
	time.Sleep(time.Millisecond)
	if got, _ := l.Lookup("175.16.199.1"); got.City != "Jilin City" {
		t.Errorf("after a broken replacement: %+v", got)
	}
	if _, err := Open(Config{Geo: geo}); err == nil {
		t.Error("opening a broken database succeeded")
	}
	if _, err := Open(Config{Geo: filepath.Join(dir, "missing.mmdb")}); err == nil {
		t.Error("opening a missing database succeeded")
	}
}

// FuzzLookup: any string as the client address, no panic; a string that is
// not an address finds nothing.
func FuzzLookup(f *testing.F) {
	dir := f.TempDir()
	geo := filepath.Join(dir, "city.mmdb")
	writeDB(f, geo, "GeoIP2-City", map[string]mmdbtype.Map{"175.16.199.0/24": changchun(), "2a00:1450::/32": changchun()})
	l, err := Open(Config{Geo: geo})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"175.16.199.0", "[2a00:1450::1]:80", "", "1.2.3.x", "::ffff:1.2.3.4%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		res, ok := l.Lookup(s)
		if !ok && res != (Result{}) {
			t.Fatalf("%q: not an address but found %+v", s, res)
		}
	})
}
