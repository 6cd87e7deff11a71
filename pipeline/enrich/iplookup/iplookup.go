// Package iplookup is Snowplow's ip_lookups enrichment over MaxMind
// databases (GeoIP2/GeoLite2 .mmdb files, read with
// github.com/oschwald/maxminddb-golang): from the client's address it
// fills geo_country, geo_region, geo_city, geo_zipcode, geo_latitude,
// geo_longitude, geo_region_name and geo_timezone from a City database,
// ip_isp and ip_organization from an ISP database, ip_domain from a Domain
// database and ip_netspeed from a Connection-Type database — the mapping of
// Snowplow's IpLookupsEnrichment and scala-maxmind-iplookups. Each
// database is optional and is re-read when its file changes (a new
// monthly download replaces it in place).
package iplookup

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Config names the databases; an empty path leaves that database out.
type Config struct {
	Geo            string `yaml:"geo"`
	ISP            string `yaml:"isp"`
	Domain         string `yaml:"domain"`
	ConnectionType string `yaml:"connection_type"`
	// CheckInterval is how often a database file's modification time and
	// size are checked for a replacement (at most once per interval, on a
	// lookup). 0 means never.
	CheckInterval time.Duration `yaml:"check_interval"`
}

// Result is what the databases say about one address. Empty strings are
// unknown.
type Result struct {
	Country, Region, City, Zipcode, RegionName, Timezone string
	Latitude, Longitude                                  string
	ISP, Organization, Domain, NetSpeed                  string
}

// Lookups answers lookups from the configured databases. It is safe for
// concurrent use.
type Lookups struct {
	geo, isp, domain, conn *db
}

// Open reads every configured database.
func Open(cfg Config) (*Lookups, error) {
	l := &Lookups{}
	var errs []error
	for _, d := range []struct {
		path string
		dst  **db
	}{{cfg.Geo, &l.geo}, {cfg.ISP, &l.isp}, {cfg.Domain, &l.domain}, {cfg.ConnectionType, &l.conn}} {
		if d.path == "" {
			continue
		}
		x, err := openDB(d.path, cfg.CheckInterval)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*d.dst = x
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// db is one database file, swapped for a fresh read when the file changes.
type db struct {
	path     string
	interval time.Duration
	cur      atomic.Pointer[loaded]
	next     atomic.Int64 // unix nanoseconds of the next file check
	mu       sync.Mutex   // one reload at a time
	reloads  atomic.Int64
}

type loaded struct {
	r     *maxminddb.Reader
	mod   time.Time
	size  int64
	dtype string
}

func openDB(path string, interval time.Duration) (*db, error) {
	d := &db{path: path, interval: interval}
	l, err := load(path)
	if err != nil {
		return nil, err
	}
	d.cur.Store(l)
	d.next.Store(time.Now().Add(interval).UnixNano())
	return d, nil
}

// load reads the whole file into memory: an mmap'd reader could not be
// closed safely while other goroutines still look up in it, a byte slice
// is simply left to the garbage collector when a reload replaces it.
func load(path string) (*loaded, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ip lookups database %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ip lookups database %s: %w", path, err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("ip lookups database %s is not a MaxMind DB: %w", path, err)
	}
	return &loaded{r: r, mod: st.ModTime(), size: st.Size(), dtype: r.Metadata.DatabaseType}, nil
}

// reader returns the current reader, first re-reading the file if the
// check interval has passed and the file's time or size changed. A file
// that cannot be read (half-written by a download) keeps the old data and
// is tried again at the next interval.
func (d *db) reader() *maxminddb.Reader {
	if d.interval > 0 {
		now := time.Now().UnixNano()
		if n := d.next.Load(); now >= n && d.next.CompareAndSwap(n, now+int64(d.interval)) {
			d.maybeReload()
		}
	}
	return d.cur.Load().r
}

func (d *db) maybeReload() {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.cur.Load()
	st, err := os.Stat(d.path)
	if err != nil || (st.ModTime().Equal(cur.mod) && st.Size() == cur.size) {
		return
	}
	if l, err := load(d.path); err == nil {
		d.cur.Store(l)
		d.reloads.Add(1)
	}
}

// Reloads reports how many times each configured database was re-read
// (geo, isp, domain, connection type), for tests and diagnostics.
func (l *Lookups) Reloads() [4]int64 {
	var out [4]int64
	for i, d := range []*db{l.geo, l.isp, l.domain, l.conn} {
		if d != nil {
			out[i] = d.reloads.Load()
		}
	}
	return out
}

type names struct {
	EN string `maxminddb:"en"`
}

type geoRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
		Names   names  `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	Postal struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"postal"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
		TimeZone  string   `maxminddb:"time_zone"`
	} `maxminddb:"location"`
}

type ispRecord struct {
	ISP          string `maxminddb:"isp"`
	Organization string `maxminddb:"organization"`
}

// ParseAddr reads the address the lookups use: an IP address, optionally
// with a port ("175.16.199.0:8080", "[2001:db8::1]:443"), as Snowplow
// strips ports before looking up.
func ParseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// Lookup returns what the databases hold for ip; ok is false if ip is not
// an address (a host name, "unknown", an anonymised "1.2.3.x").
func (l *Lookups) Lookup(ip string) (Result, bool) {
	var res Result
	a, ok := ParseAddr(ip)
	if !ok {
		return res, false
	}
	if l.geo != nil {
		var g geoRecord
		if r := l.geo.reader().Lookup(a); r.Found() && r.Decode(&g) == nil {
			res.Country, res.City, res.Zipcode, res.Timezone = g.Country.ISOCode, g.City.Names.EN, g.Postal.Code, g.Location.TimeZone
			if len(g.Subdivisions) > 0 {
				res.Region, res.RegionName = g.Subdivisions[0].ISOCode, g.Subdivisions[0].Names.EN
			}
			// Snowplow holds coordinates as Java floats: 43.88, not 43.880001068115234.
			if g.Location.Latitude != nil && g.Location.Longitude != nil {
				res.Latitude = strconv.FormatFloat(float64(float32(*g.Location.Latitude)), 'f', -1, 32)
				res.Longitude = strconv.FormatFloat(float64(float32(*g.Location.Longitude)), 'f', -1, 32)
			}
		}
	}
	if l.isp != nil {
		var i ispRecord
		if r := l.isp.reader().Lookup(a); r.Found() && r.Decode(&i) == nil {
			res.ISP, res.Organization = i.ISP, i.Organization
		}
	}
	if l.domain != nil {
		var d struct {
			Domain string `maxminddb:"domain"`
		}
		if r := l.domain.reader().Lookup(a); r.Found() && r.Decode(&d) == nil {
			res.Domain = d.Domain
		}
	}
	if l.conn != nil {
		var c struct {
			ConnectionType string `maxminddb:"connection_type"`
		}
		if r := l.conn.reader().Lookup(a); r.Found() && r.Decode(&c) == nil {
			res.NetSpeed = c.ConnectionType
		}
	}
	return res, true
}
