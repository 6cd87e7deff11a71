package useragent_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/enrich/useragent"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/pseudonymize"
	"github.com/ua-parser/uap-go/uaparser"
)

// agentMarkers are the substrings the atomic mapping looks for in the
// (lowercased) agent; every combination of them is tried.
var agentMarkers = []string{"tablet", "mobile", "playstation", "xbox", "nintendo", "applewebkit", "gecko/"}

// TestAtomicValuesKeptByDefaultAllowlist drives the atomic mapping with
// every family the ua-parser rules can report (UA, OS and device), a range
// of major versions and every combination of the agent substrings it
// tests, collects every value it writes to a string column, and checks
// that the default allowlist keeps each in clear: a value the enricher
// writes from its own vocabulary must never turn into a pseudonym
// (issue 11: os_manufacturer "BlackBerry" and "Symbian Ltd.", br_family
// "Internet Explorer", os_name "Android 13.x" were hashed).
func TestAtomicValuesKeptByDefaultAllowlist(t *testing.T) {
	var agents []string
	for mask := 0; mask < 1<<len(agentMarkers); mask++ {
		var b strings.Builder
		b.WriteString("Agent/1.0")
		for i, m := range agentMarkers {
			if mask&(1<<i) != 0 {
				b.WriteString(" " + m)
			}
		}
		agents = append(agents, b.String())
	}
	majors := []string{"", "7", "14", "78", "79", "120"}
	seen := map[event.Field]map[string]bool{}
	record := func(a *useragent.Atomic) {
		for f, v := range map[event.Field]string{
			event.BrName: a.BrName, event.BrFamily: a.BrFamily, event.BrVersion: a.BrVersion, event.BrType: a.BrType,
			event.BrRenderengine: a.BrRenderEngine, event.OSName: a.OSName, event.OSFamily: a.OSFamily,
			event.OSManufacturer: a.OSManufacturer, event.DvceType: a.DvceType,
		} {
			if seen[f] == nil {
				seen[f] = map[string]bool{}
			}
			seen[f][v] = true
		}
	}
	client := func(ua, uaMajor, os, osMajor, dev string) *uaparser.Client {
		c := &uaparser.Client{UserAgent: &uaparser.UserAgent{Family: ua, Major: uaMajor}, Os: &uaparser.Os{Family: os, Major: osMajor},
			Device: &uaparser.Device{Family: dev}}
		if uaMajor != "" {
			c.UserAgent.Minor, c.UserAgent.Patch = "0", "1"
		}
		return c
	}
	uaFams := useragent.KnownWritten(useragent.UserAgentFamily)
	osFams := useragent.KnownWritten(useragent.OSFamily)
	devFams := useragent.KnownWritten(useragent.DeviceFamily)
	for _, agent := range agents {
		for _, major := range majors {
			for _, ua := range uaFams {
				record(useragent.FromParsed(agent, client(ua, major, "Windows", "10", "Other")))
				record(useragent.FromParsed(agent, client(ua, major, "Android", "13", "Spider")))
			}
			for _, os := range osFams {
				for _, dev := range []string{"Other", "Spider", "iPad"} {
					record(useragent.FromParsed(agent, client("Chrome", "120", os, major, dev)))
				}
			}
		}
		// The device family only matters against the OS families, tried above.
		for _, dev := range devFams {
			record(useragent.FromParsed(agent, client("Other", "", "Other", "", dev)))
		}
	}

	p, err := pseudonymize.New(pseudonymize.DefaultAllowlist(), []byte("vocab-test-key-0123456789abcdef01"))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for f, values := range seen {
		sorted := make([]string, 0, len(values))
		for v := range values {
			sorted = append(sorted, v)
		}
		sort.Strings(sorted)
		var lost []string
		for _, v := range sorted {
			if v == "" {
				continue
			}
			total++
			var ev event.Event
			ev[f] = v
			out, err := p.Transform(nil, ev.AppendTSV(nil))
			if err != nil {
				t.Fatalf("%s = %q: %v", f.Name(), v, err)
			}
			if got := strings.Split(string(out), "\t")[f]; got != v {
				lost = append(lost, v)
			}
		}
		if len(lost) > 0 {
			t.Errorf("%s: %d of %d values the mapping writes are not kept by the default allowlist, e.g. %q", f.Name(), len(lost), len(sorted), lost[:min(len(lost), 8)])
		}
		t.Logf("%s: %d distinct values", f.Name(), len(sorted))
	}
	t.Logf("%d values the atomic mapping can write, each kept in clear (%d UA, %d OS, %d device families × %d agents × %d majors)",
		total, len(uaFams), len(osFams), len(devFams), len(agents), len(majors))
	// The check can fail: a copied device model is not a value the
	// mapping's vocabularies keep.
	var ev event.Event
	ev[event.OSManufacturer] = "wendy@example.com"
	out, _ := p.Transform(nil, ev.AppendTSV(nil))
	if strings.Contains(string(out), "wendy") {
		t.Error("os_manufacturer free text kept in clear")
	}
}
