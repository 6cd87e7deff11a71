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
	"fmt"
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

// SharedDir returns ../shared beside the repository (DESIGN.md, Iglu Central, conformance vectors).
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(RepoRoot(t)), "shared")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("testkit: shared directory %s missing: %v", dir, err)
	}
	return dir
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

// LookPath finds a command on PATH or in $GOPATH/bin, or calls Missing.
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
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

// NodeModules returns testkit/node/node_modules, where .ci/run installs the
// npm packages the tests use (kinesalite, Snowplow trackers, esbuild).
func NodeModules(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "testkit", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(dir, "kinesalite")); err != nil {
		Missing(t, "testkit/node/node_modules", "cd testkit/node && npm ci")
	}
	return dir
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

// FreePort returns a port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
	rie := LookPath(t, "aws-lambda-rie", "go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest")
	bin := Binary(t)
	port, apiPort := FreePort(t), FreePort(t)
	env = append([]string{"_HANDLER=" + handler, "AWS_LAMBDA_FUNCTION_NAME=plowline-" + handler,
		"AWS_REGION=us-east-1", "AWS_LAMBDA_FUNCTION_TIMEOUT=60", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}, env...)
	p := Start(t, env, rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		bin, "lambda", handler)
	WaitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second)
	return &LambdaFunction{InvokeURL: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), Proc: p}
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
