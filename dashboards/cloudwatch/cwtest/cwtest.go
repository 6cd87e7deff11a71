// Package cwtest is a wire-level CloudWatch double for tests: an
// httptest server on 127.0.0.1 that speaks the protocol the Go SDK's
// CloudWatch client uses (Smithy RPC v2 CBOR) for PutDashboard, records
// what it received and answers with validation messages or an
// InvalidParameterInput error, as CloudWatch does.
package cwtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/smithy-go/encoding/cbor"
)

// PutDashboardPath is where the SDK posts PutDashboard.
const PutDashboardPath = "/service/GraniteServiceVersion20100801/operation/PutDashboard"

// Put is one PutDashboard call as received.
type Put struct {
	Name          string
	Body          string
	Authorization string
	Headers       http.Header
}

// Message is a validation message to answer with.
type Message struct{ DataPath, Message string }

// Server is the double.
type Server struct {
	URL string
	// Respond decides the answer to a call: messages, and whether to
	// reject the body (HTTP 400 DashboardInvalidInputError) rather than
	// accept it with warnings. Nil accepts every body silently.
	Respond func(p Put) (msgs []Message, reject bool)

	mu   sync.Mutex
	puts []Put
	errs []string
}

// New starts the double; it stops when the test ends. It fails the test if
// it received a request the SDK would not send.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	ts := httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = ts.URL
	t.Cleanup(func() {
		ts.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, e := range s.errs {
			t.Errorf("cloudwatch double: %s", e)
		}
	})
	return s
}

// Puts returns the calls received so far.
func (s *Server) Puts() []Put {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Put(nil), s.puts...)
}

func (s *Server) fail(w http.ResponseWriter, format string, args ...any) {
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
	s.mu.Unlock()
	http.Error(w, "bad request", http.StatusBadRequest)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != PutDashboardPath {
		s.fail(w, "unexpected %s %s", r.Method, r.URL.Path)
		return
	}
	if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || r.Header.Get("Content-Type") != "application/cbor" {
		s.fail(w, "not an RPC v2 CBOR request: Smithy-Protocol %q, Content-Type %q", r.Header.Get("Smithy-Protocol"), r.Header.Get("Content-Type"))
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, "reading body: %v", err)
		return
	}
	v, err := cbor.Decode(raw)
	if err != nil {
		s.fail(w, "body is not CBOR: %v", err)
		return
	}
	m, ok := v.(cbor.Map)
	if !ok {
		s.fail(w, "body is %T, want a CBOR map", v)
		return
	}
	name, _ := m["DashboardName"].(cbor.String)
	body, _ := m["DashboardBody"].(cbor.String)
	if name == "" || body == "" {
		s.fail(w, "DashboardName or DashboardBody missing: %v", m)
		return
	}
	if !json.Valid([]byte(body)) {
		s.fail(w, "DashboardBody is not JSON")
		return
	}
	p := Put{Name: string(name), Body: string(body), Authorization: r.Header.Get("Authorization"), Headers: r.Header.Clone()}
	s.mu.Lock()
	s.puts = append(s.puts, p)
	respond := s.Respond
	s.mu.Unlock()

	var msgs []Message
	reject := false
	if respond != nil {
		msgs, reject = respond(p)
	}
	list := cbor.List{}
	for _, msg := range msgs {
		list = append(list, cbor.Map{"DataPath": cbor.String(msg.DataPath), "Message": cbor.String(msg.Message)})
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	if reject {
		w.Header().Set("X-Amzn-Query-Error", "InvalidParameterInput;Sender")
		w.WriteHeader(http.StatusBadRequest)
		w.Write(cbor.Encode(cbor.Map{
			"__type":                      cbor.String("com.amazonaws.cloudwatch#DashboardInvalidInputError"),
			"message":                     cbor.String("The field DashboardBody must be a valid JSON object"),
			"dashboardValidationMessages": list,
		}))
		return
	}
	w.Write(cbor.Encode(cbor.Map{"DashboardValidationMessages": list}))
}

// Env returns environment settings that give the SDK static credentials
// and keep it off shared files and instance metadata.
func Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDTEST",
		"AWS_SECRET_ACCESS_KEY":       "test-secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CA_BUNDLE":               "",
		"AWS_ENDPOINT_URL":            "",
	}
}

// SetEnv applies Env to the test's environment.
func SetEnv(t *testing.T) {
	for k, v := range Env() {
		t.Setenv(k, v)
	}
}

// SignedFor reports whether an Authorization header is a SigV4 signature
// for CloudWatch ("monitoring") in region.
func SignedFor(auth, region string) bool {
	return strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") && strings.Contains(auth, "/"+region+"/monitoring/aws4_request")
}
