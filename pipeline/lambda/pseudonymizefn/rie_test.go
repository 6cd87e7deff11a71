package pseudonymizefn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plowline/plowline/testkit"
)

// TestPseudonymizeLambdaUnderRIE runs the pseudonymizer's own bootstrap
// (cmd/lambda/pseudonymize, as `make lambda` ships it) as the
// pseudonymize function under the Lambda Runtime Interface Emulator and
// invokes it over HTTP with a Firehose batch of good events, bad rows and
// garbage.
func TestPseudonymizeLambdaUnderRIE(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "hmac.key")
	if err := os.WriteFile(keyFile, []byte(firehoseTestKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fn := testkit.LambdaBootstrapRIE(t, "pseudonymize", []string{"PLOWLINE_HMAC_KEY_FILE=" + keyFile})
	cases := firehoseCases(t)
	body, err := json.Marshal(firehoseEvent(cases))
	if err != nil {
		t.Fatal(err)
	}
	out := fn.Invoke(t, body)
	var resp FirehoseResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response is not a Firehose response: %v\n%s", err, out)
	}
	checkFirehoseResponse(t, cases, resp)
	// The wire form: results are exactly Ok / ProcessingFailed, never Dropped.
	if bytes.Contains(out, []byte("Dropped")) {
		t.Fatal("a record came back Dropped")
	}
	firehoseWaitOutput(t, fn.Proc, `"result":"processing_failed"`)
	checkFirehoseEMF(t, fn.Proc.Output(), "plowline-pseudonymize", 4, 4)
	logs := fn.Proc.Output()
	if !strings.Contains(logs, `"record_id":"garbage"`) {
		t.Errorf("no failure log for the garbage record:\n%s", logs)
	}
	for _, secret := range []string{"carol@example.com", "garbage-line", "bob@example.com", "jon.doe", firehoseTestKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("function output contains %q", secret)
		}
	}

	t.Logf("function peak RSS after a small batch: %.1f MB", float64(firehoseFunctionPeakRSS(t, fn.Proc.Cmd.Process.Pid))/(1<<20))

	// A 2 MB batch (Firehose's processor BufferSizeInMBs is 1 by default, 3
	// at most; pseudonyms grow records ~1.7×, so 2 is the documented
	// ceiling) comes back whole, within the response limit.
	big, n := firehoseBatch(t, 2<<20, false)
	before := time.Now()
	out = fn.Invoke(t, big)
	took := time.Since(before)
	resp = FirehoseResponse{}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	okCount := 0
	for _, r := range resp.Records {
		if r.Result == FirehoseOk {
			okCount++
		}
	}
	if len(resp.Records) != n || okCount != n {
		t.Fatalf("2 MB batch: %d records back, %d Ok, want %d", len(resp.Records), okCount, n)
	}
	t.Logf("2 MB batch: %d records, %d-byte request, %d-byte response, %s, peak RSS so far %.1f MB", n, len(big), len(out), took,
		float64(firehoseFunctionPeakRSS(t, fn.Proc.Cmd.Process.Pid))/(1<<20))

	// A 6 MB request (the Lambda payload limit) is transformed, and the
	// invocation fails with a clear reason because the pseudonymized
	// response cannot fit the 6 MB response limit.
	big, n = firehoseBatch(t, 6<<20, true)
	out = firehoseInvokeRaw(t, fn.InvokeURL, big)
	if !bytes.Contains(out, []byte("BufferSizeInMBs")) || bytes.Contains(out, []byte(`"records"`)) {
		t.Fatalf("6 MB request answered: %.300s", out)
	}
	hwm := firehoseFunctionPeakRSS(t, fn.Proc.Cmd.Process.Pid)
	t.Logf("6 MB request: %d records, %d bytes; function peak RSS over all invocations %.1f MB", n, len(big), float64(hwm)/(1<<20))
	// Generous bound: the function is configured with 128 MB.
	if hwm > 128<<20 {
		t.Errorf("peak RSS %d bytes exceeds the 128 MB function size", hwm)
	}
}

// TestPseudonymizeLambdaWithoutKeyFails: without a key the invocation
// fails; nothing comes back as records.
func TestPseudonymizeLambdaWithoutKeyFails(t *testing.T) {
	fn := testkit.LambdaBootstrapRIE(t, "pseudonymize", nil)
	body, _ := json.Marshal(firehoseEvent(firehoseCases(t)))
	out := firehoseInvokeRaw(t, fn.InvokeURL, body)
	if bytes.Contains(out, []byte(`"records"`)) || !bytes.Contains(out, []byte("errorMessage")) || !bytes.Contains(out, []byte("no HMAC key")) {
		t.Fatalf("invocation without a key answered: %s", out)
	}
}

// firehoseBatch builds a Firehose event of enriched events: records
// holding up to limit bytes of data, or (asRequest) a request of up to
// limit bytes of JSON (record data is base64 in it).
func firehoseBatch(t *testing.T, limit int, asRequest bool) ([]byte, int) {
	line := firehoseConformance(t)
	ev := firehoseEvent(nil)
	size := 0
	for i := 0; size < limit; i++ {
		data := strings.Replace(line, "jon.doe@email.com", fmt.Sprintf("user-%d@example.com", i%500), 1) + "\n"
		if !asRequest && size+len(data) > limit {
			break
		}
		ev.Records = append(ev.Records, events.KinesisFirehoseEventRecord{RecordID: "r" + strconv.Itoa(i), Data: []byte(data),
			ApproximateArrivalTimestamp: events.MilliSecondsEpochTime{Time: time.Now()}})
		size += len(data)
		if asRequest {
			size += len(data) / 3 // base64
		}
	}
	for {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if !asRequest || len(b) <= limit {
			return b, len(ev.Records)
		}
		// Drop records until the request fits.
		over := len(b) - limit
		per := len(b) / len(ev.Records)
		ev.Records = ev.Records[:len(ev.Records)-over/per-1]
	}
}

// firehoseFunctionPeakRSS returns VmHWM of the function process the emulator runs
// (a descendant of the emulator's process).
func firehoseFunctionPeakRSS(t *testing.T, rie int) int64 {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command (which may contain spaces): state ppid ...
		rest := stat[bytes.LastIndexByte(stat, ')')+2:]
		f := strings.Fields(string(rest))
		if len(f) < 2 || f[1] != strconv.Itoa(rie) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if !bytes.Contains(cmdline, []byte("lambda")) {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				return kb << 10
			}
		}
	}
	t.Fatal("cannot find the function process under the emulator")
	return 0
}

func firehoseWaitOutput(t *testing.T, p *testkit.Process, substr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !p.Contains(substr) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// firehoseInvokeRaw posts an event and returns the body whatever the status
// (a failed invocation is an error document).
func firehoseInvokeRaw(t *testing.T, url string, body []byte) []byte {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return out
}

// TestPseudonymizeLambdaKeyFromSecretsManager: the function reads its key
// from Secrets Manager (a wire-level double on 127.0.0.1 speaking the JSON
// 1.1 protocol) once per process, however many invocations follow.
func TestPseudonymizeLambdaKeyFromSecretsManager(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		var in struct{ SecretId string }
		json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || in.SecretId != "plowline/hmac" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"ResourceNotFoundException","Message":"not found"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:plowline/hmac",
			"Name": "plowline/hmac", "SecretString": firehoseTestKey, "VersionId": "v1"})
	}))
	defer srv.Close()
	fn := testkit.LambdaBootstrapRIE(t, "pseudonymize", []string{
		"PLOWLINE_HMAC_SECRET_ID=plowline/hmac",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + srv.URL,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=test-secret-access-key",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	})
	cases := firehoseCases(t)
	body, _ := json.Marshal(firehoseEvent(cases))
	for i := 0; i < 2; i++ {
		var resp FirehoseResponse
		if err := json.Unmarshal(fn.Invoke(t, body), &resp); err != nil {
			t.Fatal(err)
		}
		checkFirehoseResponse(t, cases, resp)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("Secrets Manager called %d times, want once per process", n)
	}
	if strings.Contains(fn.Proc.Output(), firehoseTestKey) {
		t.Fatal("the key appears in the function's output")
	}
}
