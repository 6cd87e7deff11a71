package flow

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/plowline/plowline/exporter/config"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestAlignAndWindows(t *testing.T) {
	cases := []struct {
		in     time.Time
		window time.Duration
		want   time.Time
	}{
		{t0.Add(59*time.Minute + 59*time.Second), time.Hour, t0},
		{t0, time.Hour, t0},
		{t0.Add(-time.Nanosecond), time.Hour, t0.Add(-time.Hour)},
		{t0.Add(7*time.Minute + 3*time.Second), 5 * time.Minute, t0.Add(5 * time.Minute)},
		{t0.In(time.FixedZone("x", 5*3600+1800)).Add(10 * time.Minute), time.Hour, t0},
	}
	for _, c := range cases {
		if got := Align(c.in, c.window); !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("Align(%s, %s) = %s, want %s UTC", c.in, c.window, got, c.want)
		}
	}
	ws := Windows(t0.Add(-90*time.Minute), t0.Add(30*time.Minute), time.Hour)
	if len(ws) != 3 || !ws[0].Equal(t0.Add(-2*time.Hour)) || !ws[2].Equal(t0) {
		t.Errorf("Windows = %v", ws)
	}
	if ws := Windows(t0, t0, time.Hour); ws != nil {
		t.Errorf("empty range gave %v", ws)
	}
}

func TestSettled(t *testing.T) {
	cases := []struct {
		now    time.Time
		budget time.Duration
		want   bool
	}{
		{t0.Add(59 * time.Minute), 0, false},
		{t0.Add(time.Hour), 0, true},
		{t0.Add(time.Hour + 9*time.Minute), 10 * time.Minute, false},
		{t0.Add(time.Hour + 10*time.Minute), 10 * time.Minute, true},
	}
	for _, c := range cases {
		if got := Settled(t0, time.Hour, c.budget, c.now); got != c.want {
			t.Errorf("Settled(now=%s, budget=%s) = %v, want %v", c.now, c.budget, got, c.want)
		}
	}
}

func counts(v float64) map[time.Time]float64 { return map[time.Time]float64{t0: v} }

func TestJudgeRelationsAndTolerance(t *testing.T) {
	eq := config.Edge{Relation: config.RelationEq, Tolerance: config.Tolerance{Ratio: 0.01}}
	ge := config.Edge{Relation: config.RelationGe, Tolerance: config.Tolerance{Events: 2}}
	split := config.Edge{Relation: config.RelationSplit}
	merge := config.Edge{Relation: config.RelationMerge, Tolerance: config.Tolerance{Events: 1}}
	cases := []struct {
		name            string
		e               config.Edge
		from, to, bad   map[time.Time]float64
		status          Status
		disc, ratio, al float64
	}{
		{"eq exact", eq, counts(1000), counts(1000), nil, OK, 0, 0, 10},
		{"eq within ratio", eq, counts(1000), counts(990), nil, OK, 10, 0.01, 10},
		{"eq loss beyond ratio", eq, counts(1000), counts(989), nil, Out, 11, 0.011, 10},
		{"eq surplus beyond ratio", eq, counts(1000), counts(1011), nil, Out, -11, -0.011, 10},
		{"eq zero both", eq, counts(0), counts(0), nil, OK, 0, 0, 0},
		{"eq nothing upstream, something downstream", eq, counts(0), counts(3), nil, Out, -3, -1, 0},
		{"ge surplus is fine", ge, counts(100), counts(150), nil, OK, -50, -0.5, 2},
		{"ge shortfall within events", ge, counts(100), counts(98), nil, OK, 2, 0.02, 2},
		{"ge shortfall beyond events", ge, counts(100), counts(97), nil, Out, 3, 0.03, 2},
		{"split good+bad", split, counts(100), counts(90), counts(10), OK, 0, 0, 0},
		{"split lost one", split, counts(100), counts(90), counts(9), Out, 1, 0.01, 0},
		{"merge two prefixes into one table", merge, counts(60), counts(100), counts(40), OK, 0, 0, 1},
		{"merge lost two", merge, counts(60), counts(98), counts(40), Out, 2, 0.02, 1},
		{"merge missing second upstream", merge, counts(60), counts(100), nil, Unknown, 0, 0, 0},
		{"missing upstream", eq, nil, counts(1), nil, Unknown, 0, 0, 0},
		{"split missing bad", split, counts(100), counts(90), nil, Unknown, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := Judge(c.e, c.from, c.to, c.bad, t0)
			if j.Status != c.status || j.Discrepancy != c.disc || math.Abs(j.Ratio-c.ratio) > 1e-12 || j.Allowed != c.al {
				t.Errorf("got status %s discrepancy %v ratio %v allowed %v; want %s %v %v %v", j.Status, j.Discrepancy, j.Ratio, j.Allowed, c.status, c.disc, c.ratio, c.al)
			}
		})
	}
}

func graph(budget time.Duration) config.Config {
	return config.Config{
		Window:   time.Hour,
		Lookback: 6 * time.Hour,
		Nodes:    []config.Node{{Name: "a"}, {Name: "b"}},
		Edges:    []config.Edge{{Name: "a_b", From: "a", To: "b", Relation: config.RelationEq, LatencyBudget: budget}},
	}
}

// series builds hourly counts for the six windows before t0+1h.
func series(vals ...float64) map[time.Time]float64 {
	m := map[time.Time]float64{}
	start := t0.Add(-time.Duration(len(vals)-1) * time.Hour)
	for i, v := range vals {
		if !math.IsNaN(v) {
			m[start.Add(time.Duration(i)*time.Hour)] = v
		}
	}
	return m
}

func TestEvaluateSinceAndCounts(t *testing.T) {
	nan := math.NaN()
	now := t0.Add(time.Hour + 30*time.Minute) // window t0 settled with budget ≤ 30m
	cases := []struct {
		name     string
		a, b     []float64
		budget   time.Duration
		asOf     time.Time
		out      int
		since    time.Time
		latest   time.Time
		latestSt Status
	}{
		{"all ok", []float64{1, 1, 1, 1, 1, 1}, []float64{1, 1, 1, 1, 1, 1}, 0, now, 0, time.Time{}, t0, OK},
		{"current run of two", []float64{1, 1, 1, 1, 1, 1}, []float64{1, 0, 1, 1, 0, 0}, 0, now, 3, t0.Add(-time.Hour), t0, Out},
		{"run ended", []float64{1, 1, 1, 1, 1, 1}, []float64{1, 0, 0, 1, 1, 1}, 0, now, 2, time.Time{}, t0, OK},
		{"unknown inside run is skipped", []float64{1, 1, 1, 1, 1, 1}, []float64{1, 1, 0, nan, 0, 0}, 0, now, 3, t0.Add(-3 * time.Hour), t0, Out},
		{"latest window pending by budget", []float64{1, 1, 1, 1, 1, 1}, []float64{1, 1, 1, 1, 0, 0}, 45 * time.Minute, now, 1, t0.Add(-time.Hour), t0.Add(-time.Hour), Out},
		{"stale source holds windows pending", []float64{1, 1, 1, 1, 1, 1}, []float64{1, 1, 1, 1, 1, 0}, 0, t0.Add(50 * time.Minute), 0, time.Time{}, t0.Add(-time.Hour), OK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes := map[string]Node{
				"a": {Counts: series(c.a...), AsOf: c.asOf},
				"b": {Counts: series(c.b...), AsOf: c.asOf},
			}
			r := Evaluate(graph(c.budget), nodes, now)
			e := r.Edges[0]
			if len(e.Windows) != 7 { // 6h lookback from 11:30 overlaps 05:00..11:00
				t.Fatalf("windows = %d", len(e.Windows))
			}
			if e.OutOfTolerance != c.out || !e.Since.Equal(c.since) {
				t.Errorf("out=%d since=%s; want %d %s", e.OutOfTolerance, e.Since, c.out, c.since)
			}
			if e.Latest == nil || !e.Latest.Window.Equal(c.latest) || e.Latest.Status != c.latestSt {
				t.Errorf("latest = %+v; want %s %s", e.Latest, c.latest, c.latestSt)
			}
			if last := e.Windows[len(e.Windows)-1]; last.Status != Pending {
				t.Errorf("current window %s is %s, want pending", last.Window, last.Status)
			}
		})
	}
}

// TestPropertyConservation: for random counts where downstream = upstream −
// dropped, an edge is out of tolerance exactly when dropped exceeds the
// tolerance, and the discrepancy always equals dropped.
func TestPropertyConservation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		n := float64(rng.IntN(1_000_000))
		dropped := float64(rng.IntN(int(n)+1)) - float64(rng.IntN(10))
		e := config.Edge{Relation: []string{config.RelationEq, config.RelationGe, config.RelationSplit}[rng.IntN(3)],
			Tolerance: config.Tolerance{Ratio: rng.Float64() * 0.01, Events: float64(rng.IntN(5))}}
		good := math.Floor((n - dropped) * rng.Float64())
		to, bad := counts(n-dropped), counts(0)
		if e.Relation == config.RelationSplit {
			to, bad = counts(good), counts(n-dropped-good)
		}
		j := Judge(e, counts(n), to, bad, t0)
		if j.Discrepancy != dropped {
			t.Fatalf("%+v n=%v dropped=%v: discrepancy %v", e, n, dropped, j.Discrepancy)
		}
		allowed := math.Max(e.Tolerance.Ratio*n, e.Tolerance.Events)
		want := math.Abs(dropped) > allowed
		if e.Relation == config.RelationGe {
			want = dropped > allowed
		}
		if (j.Status == Out) != want {
			t.Fatalf("%+v n=%v dropped=%v: status %s", e, n, dropped, j.Status)
		}
	}
}

func TestNeverReadSourceIsUnknownNotPending(t *testing.T) {
	now := t0.Add(2*time.Hour + 30*time.Minute)
	nodes := map[string]Node{"a": {Counts: series(1, 1), AsOf: now}, "b": {}}
	r := Evaluate(graph(0), nodes, now)
	e := r.Edges[0]
	if e.Latest != nil {
		t.Fatalf("judged without data: %+v", e.Latest)
	}
	if got := e.Windows[len(e.Windows)-2].Status; got != Unknown {
		t.Errorf("settled window with a never-read source is %s, want unknown", got)
	}
	if got := e.Windows[len(e.Windows)-1].Status; got != Pending {
		t.Errorf("current window is %s, want pending", got)
	}
}

// TestPropertySinceAndCount compares Evaluate's since-when and window
// count with a brute-force reading of random judged/unknown series.
func TestPropertySinceAndCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cfg := graph(0)
	cfg.Lookback = 24 * time.Hour
	now := t0.Add(30 * time.Minute)
	for iter := 0; iter < 2000; iter++ {
		a, b := map[time.Time]float64{}, map[time.Time]float64{}
		type win struct {
			w      time.Time
			status Status
		}
		var truth []win
		for _, w := range Windows(now.Add(-cfg.Lookback), now, cfg.Window) {
			if !w.Add(cfg.Window).After(now) {
				switch rng.IntN(4) {
				case 0: // unknown: no downstream count
					a[w] = 1
					truth = append(truth, win{w, Unknown})
				case 1:
					a[w], b[w] = 10, 7
					truth = append(truth, win{w, Out})
				default:
					a[w], b[w] = 10, 10
					truth = append(truth, win{w, OK})
				}
			}
		}
		r := Evaluate(cfg, map[string]Node{"a": {Counts: a, AsOf: now}, "b": {Counts: b, AsOf: now}}, now)
		e := r.Edges[0]
		out, since := 0, time.Time{}
		for _, x := range truth {
			if x.status == Out {
				out++
			}
		}
		for i := len(truth) - 1; i >= 0; i-- {
			if truth[i].status == OK {
				break
			}
			if truth[i].status == Out {
				since = truth[i].w
			}
		}
		if e.OutOfTolerance != out || !e.Since.Equal(since) {
			t.Fatalf("iteration %d: out %d since %s; brute force %d %s", iter, e.OutOfTolerance, e.Since, out, since)
		}
	}
}
