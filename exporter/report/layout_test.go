package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
	"github.com/plowline/plowline/exporter/refresh"
	"github.com/plowline/plowline/exporter/source"
	"github.com/plowline/plowline/testkit"
)

// measure runs in the page once laid out and writes what the test checks
// into the DOM, which --dump-dom prints.
const measure = `<script>
window.addEventListener('load', function () {
  var out = ['vw=' + window.innerWidth, 'vh=' + window.innerHeight, 'doc=' + document.documentElement.scrollWidth];
  ['edges', 'nodes'].forEach(function (id) {
    var tab = document.getElementById(id);
    var heads = tab.rows[0].cells;
    var newest = heads[heads.length - 1].getBoundingClientRect();
    var name = heads[0].getBoundingClientRect();
    out.push(id + '_newest_left=' + Math.round(newest.left), id + '_newest_right=' + Math.round(newest.right),
      id + '_name_right=' + Math.round(name.right), id + '_newest_text=' + heads[heads.length - 1].textContent);
  });
  var rc = document.getElementById('root-cause').getBoundingClientRect();
  out.push('root_bottom=' + Math.round(rc.bottom));
  var pre = document.createElement('pre');
  pre.id = 'layout';
  pre.textContent = out.join('\n');
  document.body.appendChild(pre);
});
</script>`

// TestPageShowsNewestWindowsAt1400px renders the page for GitLab's default
// graph over six hours of one-minute windows with a loss in progress, and
// lays it out in headless Chromium at 1400×900: the root cause is on the
// first screen, the page does not scroll sideways, and the newest window's
// column of both tables is fully visible beside the names.
func TestPageShowsNewestWindowsAt1400px(t *testing.T) {
	chromium := testkit.LookPath(t, "chromium", "apt-get install -y chromium")
	cfg := config.Default()
	cfg.Window = time.Minute
	const n = 361
	from := t0.Add(-6 * time.Hour)
	to := from.Add(n * time.Minute)
	asOf := to.Add(time.Hour)
	nodes := map[string]flow.Node{}
	for i, nd := range cfg.Nodes {
		counts := map[time.Time]float64{}
		for w := 0; w < n; w++ {
			// Large counts make the widest cells; every node after the
			// third loses a tenth from window 300 on.
			v := 123456.0
			if i >= 3 && w >= 300 {
				v = 111110
			}
			counts[from.Add(time.Duration(w)*time.Minute)] = v
		}
		nodes[nd.Name] = flow.Node{Bucketing: source.EventTime, AsOf: asOf, Counts: counts}
	}
	r := flow.EvaluateRange(cfg, nodes, from, to, asOf)
	var states []refresh.State
	for _, s := range cfg.Sources {
		states = append(states, refresh.State{Name: s.Name, Kind: s.Kind, Up: true, LastSuccess: asOf, Usage: &source.Usage{}})
	}
	tab := Build(cfg, r, states, nil, 12)
	if len(tab.RootCause) == 0 {
		t.Fatal("no root cause in the sample")
	}
	var b bytes.Buffer
	if err := tab.WriteHTML(&b, "/", "/metrics"); err != nil {
		t.Fatal(err)
	}
	html := strings.Replace(b.String(), `<meta http-equiv="refresh" content="30">`, "", 1)
	html = strings.Replace(html, "</body>", measure+"</body>", 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "page.html")
	if err := os.WriteFile(file, []byte(html), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1400,900", "--hide-scrollbars"}
	dom, err := exec.CommandContext(ctx, chromium, append(args, "--dump-dom", "file://"+file)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	if os.Getenv("PLOWLINE_SCREENSHOT") != "" {
		// For a look by eye: PLOWLINE_SCREENSHOT=/tmp/page.png.
		exec.CommandContext(ctx, chromium, append(args, "--screenshot="+os.Getenv("PLOWLINE_SCREENSHOT"), "file://"+file)...).Run()
	}
	m := regexp.MustCompile(`(?s)<pre id="layout">(.*?)</pre>`).FindStringSubmatch(string(dom))
	if m == nil {
		t.Fatalf("no layout measured; DOM:\n%.2000s", dom)
	}
	got := map[string]string{}
	for _, l := range strings.Split(m[1], "\n") {
		k, v, _ := strings.Cut(l, "=")
		got[k] = v
	}
	num := func(k string) int {
		v, err := strconv.Atoi(got[k])
		if err != nil {
			t.Fatalf("layout value %s=%q: %v", k, got[k], err)
		}
		return v
	}
	t.Logf("layout at 1400px: %v", got)
	vw := num("vw")
	if vw != 1400 {
		t.Fatalf("viewport %dpx wide, want 1400", vw)
	}
	if d := num("doc"); d > vw {
		t.Errorf("the page scrolls sideways: %dpx wide", d)
	}
	if rb := num("root_bottom"); rb > num("vh") {
		t.Errorf("root cause ends at %dpx, below the first screen (%dpx)", rb, num("vh"))
	}
	newest := tab.windowLabel(tab.Windows[len(tab.Windows)-1])
	for _, id := range []string{"edges", "nodes"} {
		if got[id+"_newest_text"] != newest {
			t.Errorf("%s: last column is %q, want the newest window %q", id, got[id+"_newest_text"], newest)
		}
		if l, r := num(id+"_newest_left"), num(id+"_newest_right"); l < num(id+"_name_right") || r > vw {
			t.Errorf("%s: newest window column at %d–%dpx is not visible (names end at %d, screen at %d)", id, l, r, num(id+"_name_right"), vw)
		}
	}
}
