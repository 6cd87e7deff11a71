package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunRefusesBadValuesNamingThem: every bad flag value stops plowline run
// before it starts anything, with exit status 2 and the flag and value named.
func TestRunRefusesBadValuesNamingThem(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--fault", "drop 2 collector>raw-good"}, `fraction "2"`},
		{[]string{"--fault", "drop 0.1 collector>elsewhere"}, `unknown point "collector>elsewhere"`},
		{[]string{"--lake.buffer-size", "129MiB"}, `--lake.buffer-size "129MiB"`},
		{[]string{"--lake.buffer-size", "lots"}, `--lake.buffer-size "lots"`},
		{[]string{"--lake.buffer-interval", "16m"}, "--lake.buffer-interval 16m0s"},
		{[]string{"--stream.capacity", "0"}, "--stream.capacity 0"},
		{[]string{"--collector.listen-address", "8080"}, `--collector.listen-address "8080"`},
		{[]string{"--demo", "--demo.rate", "-3"}, "rate -3"},
		{[]string{"--log.level", "loud"}, `--log.level "loud"`},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		code := runMain(append([]string{"run", "--data-dir", dir}, c.args...), nil, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("run %v: exit %d, stderr %q; want exit 2 naming %s", c.args, code, stderr.String(), c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused runs created %d files in the data directory", len(entries))
	}
}

// TestRunRefusesFaultsInLambda: the environment variable route is closed
// in a Lambda environment too.
func TestRunRefusesFaultsInLambda(t *testing.T) {
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
	t.Setenv(faultEnv, "drop 0.5 raw-good>enricher")
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"run", "--data-dir", t.TempDir()}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "not available in AWS Lambda") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// TestDockerfileRunsPlowlineRunWithItsFlags keeps the Dockerfile's CMD in
// sync with plowline run: every flag it passes must exist, and the
// collector must listen on all interfaces inside the container.
func TestDockerfileRunsPlowlineRunWithItsFlags(t *testing.T) {
	df, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindSubmatch(df)
	if m == nil {
		t.Fatal("Dockerfile has no exec-form CMD")
	}
	var cmd []string
	if err := json.Unmarshal(m[1], &cmd); err != nil {
		t.Fatalf("CMD %s: %v", m[1], err)
	}
	if len(cmd) == 0 || cmd[0] != "run" || !strings.Contains(strings.Join(cmd, " "), "--collector.listen-address=0.0.0.0:") {
		t.Fatalf("CMD %v: want plowline run with the collector on 0.0.0.0", cmd)
	}
	// Parse the CMD's flags, then stop at a deliberately bad value: an
	// unknown flag would fail earlier with a different message.
	var stdout, stderr bytes.Buffer
	args := append(append([]string(nil), cmd...), "--log.level", "check-only")
	if code := runMain(args, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `--log.level "check-only"`) {
		t.Fatalf("CMD flags not accepted by plowline run: exit %d, %s", code, stderr.String())
	}
}

// TestRunConfigFileUnderFlags: --config supplies settings, explicit flags
// win, unknown keys and bad values are refused by name.
func TestRunConfigFileUnderFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "run.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := runMain(append([]string{"run"}, args...), nil, &stdout, &stderr)
		return code, stderr.String()
	}
	if code, errOut := run("--config", write("lake:\n  buffer_sise: 1MiB\n")); code != 2 || !strings.Contains(errOut, "buffer_sise") {
		t.Errorf("unknown key: exit %d, %s", code, errOut)
	}
	if code, errOut := run("--config", write("stream_capacity: -1\ndata_dir: d\n")); code != 2 || !strings.Contains(errOut, "--stream.capacity -1") {
		t.Errorf("bad value from the file: exit %d, %s", code, errOut)
	}
	// The flag wins over the file's bad value.
	if code, errOut := run("--config", write("stream_capacity: -1\ndata_dir: d\n"), "--stream.capacity", "5", "--log.level", "x"); code != 2 || !strings.Contains(errOut, `--log.level "x"`) {
		t.Errorf("explicit flag did not win: exit %d, %s", code, errOut)
	}
	if code, errOut := run("--config", write("faults: [\"explode 1 collector>raw-good\"]\n")); code != 2 || !strings.Contains(errOut, `action "explode"`) {
		t.Errorf("fault from the file: exit %d, %s", code, errOut)
	}
}
