package lambda_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plowline/plowline/testkit"
)

const module = "github.com/plowline/plowline/"

// heavyEverywhere are packages no function links: the exporter's warehouse
// drivers (gosnowflake with arrow and the Azure SDK), SQLite, the local
// pipeline's stores and S3 fake, Prometheus's server code, dashboards, and
// the fault injector.
var heavyEverywhere = []string{
	"github.com/snowflakedb/gosnowflake",
	"github.com/apache/arrow-go/",
	"github.com/Azure/azure-sdk-for-go/",
	"modernc.org/sqlite",
	"modernc.org/libc",
	"go.etcd.io/bbolt",
	"github.com/prometheus/prometheus/",
	"github.com/grafana/",
	"github.com/johannesboyne/gofakes3",
	"gopkg.in/mgo.v2",
	"github.com/aws/aws-sdk-go-v2/service/s3",
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch",
	"net/rpc", // aws-lambda-go's go1.x server, cut by the lambda.norpc tag
	module + "exporter",
	module + "dashboards",
	module + "alerts",
	module + "pipeline/lake",
	module + "pipeline/local",
	module + "pipeline/fault",
	module + "pipeline/demo",
	module + "cmd/plowline",
}

// functions lists, per function, a package it must link (so an empty or
// wrong package list cannot pass) and the packages of the other stages it
// must not.
var functions = []struct {
	name      string
	needs     string
	forbidden []string
}{
	{"collector", module + "pipeline/collector", []string{
		"github.com/santhosh-tekuri/jsonschema", // enrich's schema validation: ~15 ms of init
		"github.com/ua-parser/uap-go",
		"github.com/aws/aws-sdk-go-v2/service/secretsmanager",
		module + "pipeline/enrich", module + "pipeline/pseudonymize",
		module + "pipeline/lambda/enrichfn", module + "pipeline/lambda/pseudonymizefn",
	}},
	{"enrich", module + "pipeline/enrich", []string{
		"github.com/aws/aws-sdk-go-v2/service/secretsmanager",
		module + "pipeline/collector", module + "pipeline/pseudonymize",
		module + "pipeline/lambda/collectorfn", module + "pipeline/lambda/pseudonymizefn",
	}},
	// The pseudonymizer links pipeline/enrich/useragent (and uap-go) on
	// purpose: its allowlist keeps ua-parser values only when they are
	// known family names (pipeline/pseudonymize/vocab.go, issue 11).
	{"pseudonymize", module + "pipeline/pseudonymize", []string{
		"github.com/santhosh-tekuri/jsonschema",
		"github.com/prometheus/client_golang",
		"github.com/aws/aws-sdk-go-v2/service/kinesis",
		"github.com/apache/thrift",
		module + "pipeline/enrich$", module + "pipeline/enrich/iglu", module + "pipeline/enrich/tp",
		module + "pipeline/collector", module + "pipeline/stream",
		module + "pipeline/lambda/collectorfn", module + "pipeline/lambda/enrichfn",
	}},
}

// TestFunctionImportGraphs checks, with `go list -deps` and the build tags
// `make lambda` uses, that each function's bootstrap links only its own
// stage: none of the heavy packages of the single binary, none of the
// other stages.
func TestFunctionImportGraphs(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command: %v", err)
	}
	for _, fn := range functions {
		t.Run(fn.name, func(t *testing.T) {
			cmd := exec.Command(goBin, "list", "-deps", "-tags", testkit.LambdaBuildTags, "./cmd/lambda/"+fn.name)
			cmd.Dir = testkit.RepoRoot(t)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, fn.needs) {
				t.Fatalf("%s does not link %s; the package list is wrong:\n%s", fn.name, fn.needs, out)
			}
			// An entry names a package and everything under it, or (ending
			// in $) that package alone.
			for _, bad := range append(slices.Clone(heavyEverywhere), fn.forbidden...) {
				exact := strings.HasSuffix(bad, "$")
				bad = strings.TrimSuffix(strings.TrimSuffix(bad, "$"), "/")
				for _, d := range deps {
					if d == bad || (!exact && strings.HasPrefix(d, bad+"/")) {
						t.Errorf("%s links %s", fn.name, d)
					}
				}
			}
			t.Logf("%s: %d packages", fn.name, len(deps))
		})
	}
}

// functionEnv is what each function needs to reach its runtime loop
// (streams, a key), and no more: nothing here is contacted before an
// invocation.
func functionEnv(t *testing.T, fn string) []string {
	switch fn {
	case "collector":
		return []string{"PLOWLINE_GOOD_STREAM=raw-good", "PLOWLINE_BAD_STREAM=raw-bad"}
	case "enrich":
		return []string{"PLOWLINE_ENRICHED_GOOD_STREAM=enriched-good", "PLOWLINE_ENRICHED_BAD_STREAM=enriched-bad"}
	default:
		key := filepath.Join(t.TempDir(), "hmac.key")
		if err := os.WriteFile(key, []byte("footprint-test-key-0123456789"), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"PLOWLINE_HMAC_KEY_FILE=" + key}
	}
}

// footprint is one start of a function process against a stand-in
// Runtime API.
type footprint struct {
	ready time.Duration // process start until its first GET .../invocation/next
	rss   int64         // VmRSS while it waits in that request, bytes
}

// measureStart starts argv as a provided.al2023 function would be started
// (AWS_LAMBDA_RUNTIME_API pointing at a stand-in on 127.0.0.1), and
// measures how long until it asks for its first invocation and its
// resident memory while it waits there (the idle state between
// invocations).
func measureStart(t *testing.T, env []string, argv ...string) footprint {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	next := make(chan time.Time, 1)
	initErr := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/runtime/invocation/next"):
			select {
			case next <- time.Now():
			default:
			}
			<-r.Context().Done() // idle: no invocation comes
		case strings.HasSuffix(r.URL.Path, "/runtime/init/error"):
			initErr <- r.URL.Path
			w.WriteHeader(http.StatusAccepted)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_LAMBDA_FUNCTION_NAME=footprint"}, env...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var at time.Time
	select {
	case at = <-next:
	case p := <-initErr:
		t.Fatalf("%v reported an init error (%s):\n%s", argv, p, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%v never asked for an invocation:\n%s", argv, out.String())
	}
	// Let the runtime loop settle in its request before reading memory.
	time.Sleep(100 * time.Millisecond)
	return footprint{ready: at.Sub(start), rss: vmRSS(t, cmd.Process.Pid)}
}

// vmRSS reads a process's resident set size from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// median of n measurements of start.
func median(n int, start func() footprint) footprint {
	var ready []time.Duration
	var rss []int64
	for range n {
		f := start()
		ready, rss = append(ready, f.ready), append(rss, f.rss)
	}
	slices.Sort(ready)
	slices.Sort(rss)
	return footprint{ready: ready[n/2], rss: rss[n/2]}
}

// pseudonymizeRSSTarget is the idle RSS the pseudonymizer's bootstrap must
// stay under (issue 14); it runs in 128 MB functions next to 6 MB batches.
const pseudonymizeRSSTarget = 20 << 20

// TestFunctionFootprint starts each function's bootstrap and the single
// binary's `plowline lambda <fn>` against a stand-in Runtime API and
// compares their idle memory: each bootstrap must use less than the single
// binary, and the pseudonymizer's must stay under 20 MB. Start-to-ready
// times are logged, never asserted (the machine is shared). docs/lambda.md
// quotes this test's log (go test -run TestFunctionFootprint -v).
func TestFunctionFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 18 processes")
	}
	big := testkit.Binary(t)
	const runs = 3
	for _, fn := range functions {
		t.Run(fn.name, func(t *testing.T) {
			env := functionEnv(t, fn.name)
			own := median(runs, func() footprint { return measureStart(t, env, testkit.LambdaBootstrap(t, fn.name)) })
			single := median(runs, func() footprint { return measureStart(t, env, big, "lambda", fn.name) })
			t.Logf("%-12s bootstrap: ready %6.1f ms, idle RSS %5.1f MB | plowline lambda: ready %6.1f ms, idle RSS %5.1f MB | RSS ratio %.2f",
				fn.name, ms(own.ready), mb(own.rss), ms(single.ready), mb(single.rss), float64(own.rss)/float64(single.rss))
			if own.rss >= single.rss {
				t.Errorf("%s bootstrap idles at %.1f MB, not less than the single binary's %.1f MB", fn.name, mb(own.rss), mb(single.rss))
			}
			if fn.name == "pseudonymize" && own.rss >= pseudonymizeRSSTarget {
				t.Errorf("pseudonymize bootstrap idles at %.1f MB, target < %d MB", mb(own.rss), pseudonymizeRSSTarget>>20)
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mb(b int64) float64         { return float64(b) / (1 << 20) }
