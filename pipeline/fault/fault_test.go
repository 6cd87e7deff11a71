package fault

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/stream"
)

func TestParseRulesRefusesBadValuesNamingThem(t *testing.T) {
	for spec, want := range map[string]string{
		"explode 0.1 collector>raw-good":                        `action "explode"`,
		"drop 1.5 collector>raw-good":                           `fraction "1.5"`,
		"drop 0 collector>raw-good":                             `fraction "0"`,
		"drop NaN collector>raw-good":                           `fraction "NaN"`,
		"drop 120% collector>raw-good":                          `fraction "120%"`,
		"drop 0.1 collector>nowhere":                            `unknown point "collector>nowhere"`,
		"drop 0.1":                                              "want ACTION FRACTION FROM>TO",
		"drop 0.1 raw-good>enricher; dup 0.2 raw-good>enricher": "already has a rule",
	} {
		_, err := ParseRules([]string{spec})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRules(%q) = %v, want an error containing %s", spec, err, want)
		}
	}
	rules, err := ParseRules([]string{"drop 10% enriched-good>pseudonymizer; dup 0.5 collector>raw-good", "", "duplicate 1 output/>warehouse"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 3 || rules[0].Fraction != 0.1 || rules[1].Action != Duplicate || rules[2].Point != "output/>warehouse" {
		t.Fatalf("parsed %v", rules)
	}
	if rules, err := ParseRules(nil); err != nil || len(rules) != 0 {
		t.Fatalf("no specification: %v, %v; fault injection must be off by default", rules, err)
	}
}

func TestParseRulesRefusesLambda(t *testing.T) {
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "plowline-enrich")
	if _, err := ParseRules([]string{"drop 0.1 collector>raw-good"}); err == nil || !strings.Contains(err.Error(), "Lambda") {
		t.Fatalf("fault rules accepted in a Lambda environment: %v", err)
	}
}

// TestLambdaAdaptersCannotReachFaultInjection checks the import graph: no
// Lambda adapter links this package.
func TestLambdaAdaptersCannotReachFaultInjection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/plowline/plowline/pipeline/lambda/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "github.com/plowline/plowline/pipeline/fault") {
		t.Fatal("a package under pipeline/lambda depends on pipeline/fault")
	}
	if !strings.Contains(string(out), "github.com/plowline/plowline/pipeline/lambda") {
		t.Fatalf("go list found no lambda packages:\n%s", out)
	}
}

type collect struct{ got []stream.Record }

func (c *collect) Put(_ context.Context, r []stream.Record) error {
	c.got = append(c.got, r...)
	return nil
}
func (c *collect) Close(context.Context) error { return nil }

func run(t *testing.T, spec string, seed uint64, n int) ([]stream.Record, *Injector, *prometheus.Registry) {
	t.Helper()
	rules, err := ParseRules([]string{spec})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	in, err := New(rules, seed, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &collect{}
	s := in.Sink(rules[0].Point, c)
	for i := 0; i < n; i += 10 {
		batch := make([]stream.Record, 10)
		for j := range batch {
			batch[j] = stream.Record{Data: []byte{byte(i + j), byte((i + j) >> 8)}}
		}
		s.Put(context.Background(), batch)
	}
	return c.got, in, reg
}

func TestDropAndDuplicateAreDeterministicAndCounted(t *testing.T) {
	const n = 2000
	got1, in, reg := run(t, "drop 0.25 enricher>enriched-good", 7, n)
	got2, _, _ := run(t, "drop 0.25 enricher>enriched-good", 7, n)
	got3, _, _ := run(t, "drop 0.25 enricher>enriched-good", 8, n)
	c := in.Counts()[0]
	if c.Seen != n || int(c.Changed) != n-len(got1) {
		t.Fatalf("counts %+v disagree with %d records passed of %d", c, len(got1), n)
	}
	// 25% of 2000 = 500; a fair coin stays well within ±100 (5 sigma).
	if c.Changed < 400 || c.Changed > 600 {
		t.Errorf("dropped %d of %d at fraction 0.25", c.Changed, n)
	}
	if len(got1) != len(got2) || string(got1[100].Data) != string(got2[100].Data) {
		t.Error("same seed, different records dropped")
	}
	if len(got1) == len(got3) && string(got1[100].Data) == string(got3[100].Data) && string(got1[300].Data) == string(got3[300].Data) {
		t.Error("different seeds dropped the same records")
	}
	if v := faultTotal(t, reg); v != float64(c.Changed) {
		t.Errorf("%s = %v, want %d", metricname.FaultRecords.Name, v, c.Changed)
	}

	dup, in2, _ := run(t, "dup 1 collector>raw-good", 1, 100)
	if len(dup) != 200 || in2.Counts()[0].Changed != 100 {
		t.Errorf("duplicate 1 passed %d records of 100, want 200", len(dup))
	}
}

// faultTotal sums plowline_fault_records_total from reg.
func faultTotal(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == metricname.FaultRecords.Name {
			for _, m := range mf.Metric {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestNilInjectorPassesEverythingThrough(t *testing.T) {
	var in *Injector
	c := &collect{}
	if in.Sink("collector>raw-good", c) != stream.Sink(c) {
		t.Fatal("nil injector wrapped a sink")
	}
	lines := [][]byte{[]byte("a")}
	if got := in.Lines("output/>warehouse", lines); len(got) != 1 {
		t.Fatal("nil injector changed lines")
	}
	in.LogSummary()
}

// FuzzParseRules: any specification either is refused or yields rules
// with a known point and a fraction in (0, 1] that print back to
// themselves.
func FuzzParseRules(f *testing.F) {
	for _, s := range []string{"drop 0.1 enriched-good>pseudonymizer", "dup 5% collector>raw-good; drop 1 output/>warehouse", "drop 1e-3 raw-bad>pseudonymizer", "drop +Inf x", ";;", "drop 0x1p-2 raw-good>enricher"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		rules, err := ParseRules([]string{spec})
		if err != nil {
			return
		}
		for _, r := range rules {
			if !(r.Fraction > 0 && r.Fraction <= 1) {
				t.Fatalf("%q: fraction %v accepted", spec, r.Fraction)
			}
			again, err := ParseRules([]string{r.String()})
			if err != nil || len(again) != 1 || again[0] != r {
				t.Fatalf("%q: rule %v prints as %q, which parses to %v (%v)", spec, r, r.String(), again, err)
			}
		}
	})
}

// TestAfterDelaysTheRule: a rule with "after" leaves records alone until
// the delay has passed, then acts; the delay prints back and bad delays
// are refused by value.
func TestAfterDelaysTheRule(t *testing.T) {
	rules, err := ParseRules([]string{"drop 1 collector>raw-good after 200ms"})
	if err != nil || len(rules) != 1 || rules[0].After != 200*time.Millisecond {
		t.Fatalf("rules %v, err %v", rules, err)
	}
	if got := rules[0].String(); got != "drop 1 collector>raw-good after 200ms" {
		t.Errorf("String() = %q", got)
	}
	for _, bad := range []string{"drop 1 collector>raw-good after soon", "drop 1 collector>raw-good after -1s", "drop 1 collector>raw-good before 1s"} {
		if _, err := ParseRules([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	in, err := New(rules, 1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := []stream.Record{{Data: []byte("a")}, {Data: []byte("b")}}
	if got := in.Records("collector>raw-good", recs); len(got) != 2 {
		t.Fatalf("before the delay %d of 2 records passed", len(got))
	}
	start := in.Counts()[0].Start
	time.Sleep(time.Until(start) + 10*time.Millisecond)
	if got := in.Records("collector>raw-good", recs); len(got) != 0 {
		t.Fatalf("after the delay %d records passed a drop-1 rule", len(got))
	}
	if c := in.Counts()[0]; c.Seen != 2 || c.Changed != 2 {
		t.Errorf("counts %+v: want the 2 records after the delay seen and dropped", c)
	}
}
