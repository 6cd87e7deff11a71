// Package testkit starts the real parts plowline's tests run against —
// kinesalite, the AWS Lambda Runtime Interface Emulator running the real
// plowline binary, Node.js trackers — on 127.0.0.1, and stops them when the
// test ends. It is imported only by tests.
//
// A missing tool fails the test under CI (CI=true), where .ci/run installs
// everything; on a developer machine it skips with the command to install it.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RepoRoot returns the repository's root directory (where go.mod is).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testkit: cannot locate source file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// TestData returns the repository's testdata directory: the data sets the
// tests read (iglu-central/: Iglu Central schemas; conformance/: vectors from
// the Snowplow analytics SDKs), each with its licence and provenance. Tests
// read only the repository, so a fresh clone runs them all.
func TestData(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "testdata")
	if _, err := os.Stat(filepath.Join(dir, "iglu-central", "schemas")); err != nil {
		t.Fatalf("testkit: test data %s incomplete: %v", dir, err)
	}
	return dir
}

// SharedDir is TestData under its former name (the data used to live in
// ../shared beside the repository); the layout below it is unchanged.
//
// Deprecated: call TestData.
func SharedDir(t testing.TB) string {
	t.Helper()
	return TestData(t)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Missing reports a tool the test needs but the machine lacks: a failure
// under CI, a skip elsewhere. install says how to get it.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required under CI but missing; .ci/run should have installed it (%s)", what, install)
	}
	t.Skipf("%s missing; install it with: %s (CI fails instead of skipping)", what, install)
}

// LookPath finds a command in bin/tools (pinned by make test-deps), on PATH
// or in $GOPATH/bin, or calls Missing.
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	// Pinned tools first: where `make test-deps` installs them.
	if p := filepath.Join(RepoRoot(t), "bin", "tools", name); isFile(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	Missing(t, name, install)
	return ""
}

// NodeModules returns testkit/node/node_modules, where `make test` (its
// test-deps step) runs npm ci for the packages the tests use (kinesalite,
// Snowplow trackers, esbuild). A missing or stale install fails the test
// outright, on any machine: the repository provides it, so a test must not
// run half its steps against whatever happens to be there.
func NodeModules(t testing.TB) string {
	t.Helper()
	node := filepath.Join(RepoRoot(t), "testkit", "node")
	dir := filepath.Join(node, "node_modules")
	if err := nodeModulesCurrent(node); err != nil {
		t.Fatalf("testkit: %v; run `make test-deps` (or: cd testkit/node && npm ci)", err)
	}
	return dir
}

// nodeModulesCurrent checks that node_modules holds what package-lock.json
// pins: npm ci records what it installed in node_modules/.package-lock.json
// (optional packages for other platforms are absent by design). Contents,
// not times: a checkout or merge touches package-lock.json without changing
// it. testkit/node/lock_current.js is the same check for .ci/test-deps.
func nodeModulesCurrent(nodeDir string) error {
	want, err := lockPackages(filepath.Join(nodeDir, "package-lock.json"))
	if err != nil {
		return err
	}
	have, err := lockPackages(filepath.Join(nodeDir, "node_modules", ".package-lock.json"))
	if err != nil {
		return fmt.Errorf("%s/node_modules is not installed (%w)", nodeDir, err)
	}
	for name, p := range want {
		if name == "" { // the project itself
			continue
		}
		h, ok := have[name]
		switch {
		case !ok && p.Optional:
		case !ok:
			return fmt.Errorf("%s/node_modules is stale: %s is not installed", nodeDir, name)
		case h.Version != p.Version || h.Integrity != p.Integrity:
			return fmt.Errorf("%s/node_modules is stale: %s is %s, package-lock.json pins %s", nodeDir, name, h.Version, p.Version)
		}
	}
	return nil
}

type lockPackage struct {
	Version   string `json:"version"`
	Integrity string `json:"integrity"`
	Optional  bool   `json:"optional"`
}

// lockPackages reads the "packages" map of an npm lock file.
func lockPackages(path string) (map[string]lockPackage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lock struct {
		Packages map[string]lockPackage `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return lock.Packages, nil
}

// Node returns the node executable.
func Node(t testing.TB) string {
	t.Helper()
	return LookPath(t, "node", "apt-get install -y nodejs")
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds cmd/plowline once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "plowline-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "plowline")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/plowline")
		cmd.Dir = RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/plowline: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago, for a
// server the test starts in another process. It is drawn below the
// kernel's ephemeral range (ip_local_port_range): a port the kernel handed
// out for ":0" is also one it may give, the moment it is closed, to any
// outgoing connection of the many concurrent tests, and a full e2e run saw
// `plowline run` fail to bind one. Ports already returned in this process
// are not returned again.
func FreePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	low := ephemeralLow()
	for range 200 {
		p := portFloor + rand.IntN(low-portFloor)
		if portsGiven[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[p] = true
		return p
	}
	// The range below is crowded: fall back to one the kernel picks.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// portFloor is the lowest port FreePort draws: above the well-known and
// most registered service ports.
const portFloor = 20000

var (
	portMu     sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the bottom of the kernel's ephemeral port range (32768
// when it cannot be read, Linux's default).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > portFloor+1000 {
				low = n
			}
		}
	}
	return low
}

// WaitTCP waits until addr accepts connections or the timeout passes.
func WaitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("%s not accepting connections after %s", addr, timeout)
}

// Process is a background process started for a test. Its combined output is
// kept and printed if the test fails.
type Process struct {
	Cmd *exec.Cmd
	out *syncBuffer
}

// Output returns what the process has printed so far.
func (p *Process) Output() string { return p.out.String() }

// Start runs name with args in the background; the process (and its
// children) are killed when the test ends.
func Start(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	buf := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &Process{Cmd: cmd, out: buf}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		killGroup(cmd)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(name), tail(buf.String(), 8000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Kinesalite starts kinesalite on a free 127.0.0.1 port and returns its
// endpoint URL. Streams created in it become ACTIVE after 50 ms.
func Kinesalite(t testing.TB) string {
	t.Helper()
	mods := NodeModules(t)
	port := FreePort(t)
	script := fmt.Sprintf(`require(%q)({createStreamMs:50, deleteStreamMs:50, updateStreamMs:50}).listen(%d, '127.0.0.1', () => console.log('kinesalite listening'))`,
		filepath.Join(mods, "kinesalite"), port)
	Start(t, nil, Node(t), "-e", script)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	WaitTCP(t, addr, 15*time.Second)
	return "http://" + addr
}

// LambdaFunction is our binary running under the Lambda Runtime Interface Emulator.
type LambdaFunction struct {
	// InvokeURL is the emulator's invoke endpoint; POST an event to it.
	InvokeURL string
	Proc      *Process
}

// LambdaRIE runs the real plowline binary as a Lambda function (handler
// names the stage, as the provided.al2023 runtime passes it) under
// aws-lambda-rie, listening on 127.0.0.1 only.
func LambdaRIE(t testing.TB, handler string, env []string) *LambdaFunction {
	t.Helper()
	return lambdaUnderRIE(t, handler, env, Binary(t), "lambda", handler)
}

// LambdaBootstrapRIE runs the function's own bootstrap (cmd/lambda/<fn>,
// built as `make lambda` builds it, for this machine's architecture) under
// aws-lambda-rie, as the provided.al2023 runtime runs it: no arguments.
func LambdaBootstrapRIE(t testing.TB, fn string, env []string) *LambdaFunction {
	t.Helper()
	return lambdaUnderRIE(t, fn, env, LambdaBootstrap(t, fn))
}

func lambdaUnderRIE(t testing.TB, handler string, env []string, cmd ...string) *LambdaFunction {
	t.Helper()
	rie := LookPath(t, "aws-lambda-rie", "make test-deps (go-installs the pinned version into bin/tools)")
	port, apiPort := FreePort(t), FreePort(t)
	env = append([]string{"_HANDLER=" + handler, "AWS_LAMBDA_FUNCTION_NAME=plowline-" + handler,
		"AWS_REGION=us-east-1", "AWS_LAMBDA_FUNCTION_TIMEOUT=60", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}, env...)
	args := append([]string{
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort)}, cmd...)
	p := Start(t, env, rie, args...)
	WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second)
	return &LambdaFunction{InvokeURL: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), Proc: p}
}

// LambdaBuildTags are the build tags of the function bootstraps (the
// Makefile's LAMBDA_TAGS): lambda.norpc drops aws-lambda-go's net/rpc
// server, which only the retired go1.x runtime used.
const LambdaBuildTags = "lambda.norpc"

var (
	bootstrapMu    sync.Mutex
	bootstrapPaths = map[string]string{}
)

// LambdaBootstrap builds cmd/lambda/<fn> once per test process, with the
// flags `make lambda` uses (static, trimmed paths, LambdaBuildTags), and
// returns the executable's path.
func LambdaBootstrap(t testing.TB, fn string) string {
	t.Helper()
	bootstrapMu.Lock()
	defer bootstrapMu.Unlock()
	if p, ok := bootstrapPaths[fn]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "plowline-lambda-"+fn+"-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", LambdaBuildTags, "-o", p, "./cmd/lambda/"+fn)
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/lambda/%s: %v\n%s", fn, err, out)
	}
	bootstrapPaths[fn] = p
	return p
}

// Invoke posts an event to the function and returns the response body.
func (f *LambdaFunction) Invoke(t testing.TB, event []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.InvokeURL, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoking lambda: %v", err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lambda invoke: HTTP %d: %s", resp.StatusCode, out.String())
	}
	return out.Bytes()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Bound memory for chatty long-running processes.
	if s.b.Len() > 4<<20 {
		keep := s.b.Bytes()[s.b.Len()-(1<<20):]
		s.b = *bytes.NewBuffer(append([]byte(nil), keep...))
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Contains reports whether the process output contains substr.
func (p *Process) Contains(substr string) bool { return strings.Contains(p.out.String(), substr) }
