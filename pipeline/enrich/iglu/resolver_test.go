package iglu

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var igluCentral = filepath.Join("..", "..", "..", "testdata", "iglu-central")

func instance(t *testing.T, s string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustKey(t *testing.T, uri string) SchemaKey {
	t.Helper()
	k, err := ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseURI(t *testing.T) {
	k := mustKey(t, "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-10")
	if k.Vendor != "com.snowplowanalytics.snowplow" || k.Name != "web_page" || k.Addition != 10 || k.String() != "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-10" {
		t.Fatalf("%+v", k)
	}
	for _, bad := range []string{"", "iglu:", "iglu:a/b/c", "iglu:a/b/c/1-0", "iglu:a/b/c/0-0-0", "iglu:a/b/c/1-0-01",
		"iglu:../b/c/1-0-0", "iglu:a/../c/1-0-0", "iglu:a/b c/d/1-0-0", "http:a/b/c/1-0-0", "iglu:a/b/c/1-0-x", "iglu:a/b/c/d/1-0-0"} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) accepted", bad)
		}
	}
}

func TestDirRegistryValidatesAgainstIgluCentral(t *testing.T) {
	r := NewResolver([]Registry{DirRegistry{Root: igluCentral}}, Options{NoEmbedded: true})
	key := mustKey(t, "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1")
	ctx := context.Background()
	if err := r.Validate(ctx, key, instance(t, `{"targetUrl":"https://example.com/a"}`)); err != nil {
		t.Fatalf("valid link_click rejected: %v", err)
	}
	err := r.Validate(ctx, key, instance(t, `{"elementId":3}`))
	var de *DataError
	if !errors.As(err, &de) {
		t.Fatalf("invalid link_click: got %v, want DataError", err)
	}
	var paths, kws []string
	for _, rep := range de.Reports {
		paths = append(paths, rep.Path)
		kws = append(kws, rep.Keyword)
	}
	joined := strings.Join(paths, ",") + " " + strings.Join(kws, ",")
	if !strings.Contains(joined, "$.elementId") || !strings.Contains(joined, "required") {
		t.Fatalf("reports do not name the failing field and keyword: %+v", de.Reports)
	}
}

func TestHTTPRegistryServesIgluCentral(t *testing.T) {
	var hits atomic.Int64
	fs := http.FileServer(http.Dir(igluCentral))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hits.Add(1)
		fs.ServeHTTP(w, req)
	}))
	defer srv.Close()
	r := NewResolver([]Registry{HTTPRegistry{BaseURL: srv.URL, Client: srv.Client()}}, Options{NoEmbedded: true, MissTTL: time.Hour})
	ctx := context.Background()
	key := mustKey(t, "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0")
	for i := 0; i < 5; i++ {
		if err := r.Validate(ctx, key, instance(t, `{"id":"c6ef3124-b53a-4b13-a233-0088f79dcbcb"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Validate(ctx, key, instance(t, `{"id":"not a uuid"}`)); err == nil {
		t.Fatal("web_page with a non-UUID id accepted: formats are not asserted")
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("registry asked %d times for one schema; the cache is not used", n)
	}
	missing := mustKey(t, "iglu:com.acme/nothing/jsonschema/1-0-0")
	for i := 0; i < 3; i++ {
		err := r.Validate(ctx, missing, instance(t, `{}`))
		var re *ResolutionError
		if !errors.As(err, &re) || len(re.History) != 1 || re.History[0].Errors[0].Kind != "NotFound" || re.History[0].Repository != srv.URL {
			t.Fatalf("missing schema: %#v", err)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("registry asked %d times; a miss is not remembered for MissTTL", n)
	}
}

func TestRegistryFailureAndOrder(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer down.Close()
	r := NewResolver([]Registry{HTTPRegistry{BaseURL: down.URL, Client: down.Client()}}, Options{})
	ctx := context.Background()
	// A wrapper resolves from the embedded registry even with the configured one down.
	if _, err := r.Schema(ctx, mustKey(t, "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1")); err != nil {
		t.Fatalf("wrapper not resolved offline: %v", err)
	}
	// Anything else tries the configured registry first, then falls back to embedded.
	if _, err := r.Schema(ctx, mustKey(t, "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0")); err != nil {
		t.Fatalf("embedded fallback: %v", err)
	}
	_, err := r.Schema(ctx, mustKey(t, "iglu:com.acme/nothing/jsonschema/1-0-0"))
	var re *ResolutionError
	if !errors.As(err, &re) || len(re.History) != 2 || re.History[0].Errors[0].Kind != "RepoFailure" ||
		!strings.Contains(re.History[0].Errors[0].Message, "502") || re.History[1].Repository != EmbeddedName {
		t.Fatalf("history: %#v", err)
	}
}

func TestSchemaErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(path, body string) {
		p := filepath.Join(dir, "schemas", filepath.FromSlash(path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	write("com.acme/broken/jsonschema/1-0-0", `{"type": 5}`)
	write("com.acme/notjson/jsonschema/1-0-0", `{`)
	write("com.acme/liar/jsonschema/1-0-0", `{"self":{"vendor":"com.acme","name":"other","format":"jsonschema","version":"1-0-0"}}`)
	r := NewResolver([]Registry{DirRegistry{Root: dir}}, Options{NoEmbedded: true})
	for _, name := range []string{"broken", "notjson", "liar"} {
		_, err := r.Schema(context.Background(), mustKey(t, "iglu:com.acme/"+name+"/jsonschema/1-0-0"))
		var se *SchemaError
		if !errors.As(err, &se) || len(se.Issues) == 0 {
			t.Errorf("%s: got %v, want SchemaError", name, err)
		}
	}
}

func TestEmbeddedSchemasCompile(t *testing.T) {
	keys, err := EmbeddedKeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 20 {
		t.Fatalf("only %d embedded schemas", len(keys))
	}
	r := NewResolver(nil, Options{})
	for _, k := range keys {
		if _, err := r.Schema(context.Background(), k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	gl := mustKey(t, "iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9")
	ok := `{"environment":"production","source":"gitlab-javascript","plan":null,"extra":{"a":1},"user_id":null,"project_id":42,"namespace_id":null,"context_generated_at":"2026-11-26T10:00:00.000Z","realm":"saas","instance_id":null,"host_name":"gitlab.com","correlation_id":"01HXYZ"}`
	if err := r.Validate(context.Background(), gl, instance(t, ok)); err != nil {
		t.Fatalf("gitlab_standard: %v", err)
	}
	for _, bad := range []string{`{"source":"x"}`, `{"environment":"p","project_id":"42"}`, `{"environment":"p","realm":"mars"}`, `{"environment":"p","unknown":1}`} {
		if err := r.Validate(context.Background(), gl, instance(t, bad)); err == nil {
			t.Errorf("gitlab_standard accepted %s", bad)
		}
	}
}
