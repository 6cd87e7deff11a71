package e2e

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/payload"
	"github.com/plowline/plowline/testkit"
)

// TestEnrichCommand runs `plowline enrich` on a file of base64 payloads
// (the collector's file-sink format) with Iglu Central as a configured
// registry, and checks both outputs.
func TestEnrichCommand(t *testing.T) {
	bin := testkit.Binary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "enrich.yaml")
	os.WriteFile(cfg, []byte("registries: ["+filepath.Join(testkit.TestData(t), "iglu-central")+"]\nenrichments:\n  anon_ip: {enabled: true, ipv4_octets: 2}\n"), 0o644)
	ue := `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow/submit_form/jsonschema/1-0-0","data":{"formId":"signup","elements":[]}}}`
	lines := []string{
		base64.StdEncoding.EncodeToString(enrichPayload(t, payload.CollectorPayload{Path: "/i", IPAddress: "203.0.113.77",
			Querystring: "e=ue&p=web&tv=js-4.10.1&ue_px=" + base64.RawURLEncoding.EncodeToString([]byte(ue))})),
		"", // blank lines are skipped
		"%%% not base64 %%%",
		base64.RawStdEncoding.EncodeToString(enrichPayload(t, payload.CollectorPayload{Path: "/i", Querystring: "e=pv&p=web&tv=t&dtm=never"})),
	}
	in := filepath.Join(dir, "raw.b64")
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	good, bad := filepath.Join(dir, "good.tsv"), filepath.Join(dir, "bad.jsonl")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "enrich", "--config", cfg, "--in", in, "--good", good, "--bad", bad, "--log.level", "info")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plowline enrich: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "3 payloads, 1 good events, 2 bad rows") {
		t.Errorf("summary missing from the log:\n%s", stderr.String())
	}
	gl, _ := os.ReadFile(good)
	goodLines := strings.Split(strings.TrimSuffix(string(gl), "\n"), "\n")
	if len(goodLines) != 1 {
		t.Fatalf("%d good lines", len(goodLines))
	}
	ev, err := event.Parse(goodLines[0])
	if err != nil {
		t.Fatal(err)
	}
	if ev[event.EventName] != "submit_form" || ev[event.UserIPAddress] != "203.0.x.x" || ev[event.VEtl] == "" {
		t.Errorf("event_name %q user_ipaddress %q v_etl %q", ev[event.EventName], ev[event.UserIPAddress], ev[event.VEtl])
	}
	bl, _ := os.ReadFile(bad)
	types := []string{}
	for _, l := range strings.Split(strings.TrimSpace(string(bl)), "\n") {
		b, err := badrow.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, badrow.TypeOf(b.Schema))
	}
	// dtm=never is an atomic parse error: schema_violations, as in Snowplow enrich since 4.2.
	if strings.Join(types, ",") != "collector_payload_format_violation,schema_violations" {
		t.Errorf("bad rows %v", types)
	}
	if !strings.Contains(string(bl), "input line 3") {
		t.Errorf("format violation does not name the line: %s", bl)
	}

	// Stdin to stdout, bad rows to stderr by default.
	cmd = exec.Command(bin, "enrich")
	cmd.Stdin = strings.NewReader(lines[0] + "\n")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("stdin mode: %v\n%s", err, errOut.String())
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("stdout: %q", out.String())
	}
	// submit_form is in the embedded registry: no bad rows offline either.
	if errOut.Len() != 0 {
		t.Errorf("unexpected stderr: %s", errOut.String())
	}
}

func TestEnrichCommandRefusesBadConfig(t *testing.T) {
	bin := testkit.Binary(t)
	dir := t.TempDir()
	for _, c := range []struct {
		yaml, want string
	}{
		{"cache: {size: -3}", "cache.size: -3"},
		{"registries: [ftp://example.com]", "registries[0]: ftp://example.com"},
		{"enrichmentz: {}", "enrichmentz"},
	} {
		cfg := filepath.Join(dir, "c.yaml")
		os.WriteFile(cfg, []byte(c.yaml), 0o644)
		out, err := exec.Command(bin, "enrich", "--config", cfg).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: err %v, output %s", c.yaml, err, out)
		}
	}
	out, err := exec.Command(bin, "enrich", "--log.level", "loud").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `"loud"`) {
		t.Errorf("bad log level: %v %s", err, out)
	}
}
