package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/pseudonymize"
	"github.com/plowline/plowline/testkit"
)

func pseudonymizeFixture(t *testing.T) (line []byte, keyFile string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.TestData(t), "conformance", "analytics-sdk", "full-event.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("cli-secret-key-material\n"), 0o600)
	return bytes.TrimRight(b, "\r\n"), keyFile
}

func TestPseudonymizeCommand(t *testing.T) {
	line, keyFile := pseudonymizeFixture(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.tsv")
	os.WriteFile(in, []byte(string(line)+"\n\nnot an event carol@example.com\n"+string(line)), 0o600)
	rejects := filepath.Join(dir, "rejects.tsv")
	var stdout, stderr bytes.Buffer
	code := runMain([]string{"pseudonymize", "--in", in, "--key-file", keyFile, "--rejects", rejects}, nil, &stdout, &stderr)
	if code != exitRejected {
		t.Fatalf("exit %d, want %d (some rejected); stderr: %s", code, exitRejected, stderr.String())
	}
	p, _ := pseudonymize.New(pseudonymize.DefaultAllowlist(), []byte("cli-secret-key-material"))
	want, _ := p.Transform(nil, line)
	if got := stdout.String(); got != string(want)+"\n"+string(want)+"\n" {
		t.Fatalf("stdout:\n%s\nwant the two events pseudonymized", got)
	}
	rej, _ := os.ReadFile(rejects)
	if !strings.HasPrefix(string(rej), "3\t") || !strings.HasSuffix(string(rej), "\tnot an event carol@example.com\n") {
		t.Fatalf("rejects file: %q", rej)
	}
	if strings.Contains(stderr.String(), "carol") || strings.Contains(stdout.String(), "carol") {
		t.Fatal("a rejected line leaked to stdout/stderr")
	}

	// Without --rejects the line number and reason go to stderr, no content.
	stdout.Reset()
	stderr.Reset()
	code = runMain([]string{"pseudonymize", "--key-file", keyFile}, strings.NewReader("secret-garbage\n"), &stdout, &stderr)
	if code != exitRejected || !strings.Contains(stderr.String(), "line 1 rejected") || strings.Contains(stderr.String(), "secret-garbage") || stdout.Len() != 0 {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}

	// All good: exit 0, --out written.
	out := filepath.Join(dir, "out.tsv")
	if code := runMain([]string{"pseudonymize", "--key-file", keyFile, "--out", out}, bytes.NewReader(line), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got, _ := os.ReadFile(out); string(got) != string(want)+"\n" {
		t.Fatalf("--out: %q", got)
	}
}

func TestPseudonymizeCommandRefusesBadConfig(t *testing.T) {
	_, keyFile := pseudonymizeFixture(t)
	badAllow := filepath.Join(t.TempDir(), "allow.yaml")
	os.WriteFile(badAllow, []byte("fields: [user_idd]\n"), 0o600)
	worldReadable := filepath.Join(t.TempDir(), "key")
	os.WriteFile(worldReadable, []byte("cli-secret-key-material-long-enough-32\n"), 0o600)
	os.Chmod(worldReadable, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pseudonymize"}, "no HMAC key"},
		{[]string{"pseudonymize", "--key-file", keyFile, "--allowlist", badAllow}, `"user_idd"`},
		{[]string{"pseudonymize", "--key-file", keyFile, "--key-env", "X"}, "exactly one"},
		{[]string{"pseudonymize", "--key-file", worldReadable}, "chmod 600"},
		{[]string{"pseudonymize", "--key-file", keyFile, "--in", "/nonexistent/in"}, "/nonexistent/in"},
		{[]string{"pseudonymize", "--key-env", "PLOWLINE_TEST_NO_SUCH_VAR"}, "PLOWLINE_TEST_NO_SUCH_VAR"},
		{[]string{"pseudonymize", "--bogus"}, "bogus"},
	} {
		var stdout, stderr bytes.Buffer
		code := runMain(c.args, strings.NewReader(""), &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want a failure mentioning %s", c.args, code, stderr.String(), c.want)
		}
		if strings.Contains(stderr.String(), "cli-secret-key-material") {
			t.Errorf("%v: key printed", c.args)
		}
	}
}

// TestPseudonymizeHelpHidesKey: --help documents every flag and never shows
// a key, wherever it is configured.
func TestPseudonymizeHelpHidesKey(t *testing.T) {
	_, keyFile := pseudonymizeFixture(t)
	t.Setenv("PLOWLINE_HMAC_KEY", "env-secret-key-material")
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"pseudonymize", "--key-file", keyFile, "--key-env", "PLOWLINE_HMAC_KEY", "--help"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	help := stdout.String() + stderr.String()
	for _, flag := range []string{"-in", "-out", "-allowlist", "-key-file", "-key-env", "-key-secret-id", "-rejects", "-print-allowlist", "Exit status"} {
		if !strings.Contains(help, flag) {
			t.Errorf("--help does not document %s", flag)
		}
	}
	for _, secret := range []string{"env-secret-key-material", "cli-secret-key-material"} {
		if strings.Contains(help, secret) {
			t.Fatalf("--help shows the key:\n%s", help)
		}
	}
	stdout.Reset()
	if code := runMain([]string{"pseudonymize", "--print-allowlist"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "event_id") {
		t.Fatalf("--print-allowlist: exit %d", code)
	}
}

// TestPseudonymizeKeyHandling: two key sources are a usage error (exit 2);
// a short key works with a warning that names its length, not the key; a
// 32-byte key after trimming gets no warning.
func TestPseudonymizeKeyHandling(t *testing.T) {
	line, shortKey := pseudonymizeFixture(t)
	t.Setenv("PLOWLINE_TEST_KEY", "x")
	var stdout, stderr bytes.Buffer
	if code := runMain([]string{"pseudonymize", "--key-file", shortKey, "--key-env", "PLOWLINE_TEST_KEY"}, bytes.NewReader(line), &stdout, &stderr); code != 2 {
		t.Errorf("two key sources: exit %d, want 2 (%s)", code, stderr.String())
	}
	stderr.Reset()
	if code := runMain([]string{"pseudonymize", "--key-file", shortKey}, bytes.NewReader(line), &stdout, &stderr); code != 0 {
		t.Fatalf("short key: exit %d: %s", code, stderr.String())
	}
	// "cli-secret-key-material\n" trims to 23 bytes.
	if !strings.Contains(stderr.String(), "warning") || !strings.Contains(stderr.String(), "23 bytes") || strings.Contains(stderr.String(), "cli-secret") {
		t.Errorf("short key: stderr %q, want a warning naming 23 bytes and not the key", stderr.String())
	}
	long := filepath.Join(t.TempDir(), "long.key")
	os.WriteFile(long, []byte("  "+strings.Repeat("k", 32)+"\n\n"), 0o600)
	stderr.Reset()
	if code := runMain([]string{"pseudonymize", "--key-file", long}, bytes.NewReader(line), &stdout, &stderr); code != 0 || strings.Contains(stderr.String(), "warning") {
		t.Errorf("32-byte key: exit %d, stderr %q", code, stderr.String())
	}
}
