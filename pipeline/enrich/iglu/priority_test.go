package iglu

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// recording is a registry that serves one schema document for every key
// and records which registries were asked, in order.
type recording struct {
	name  string
	has   bool
	mu    *sync.Mutex
	asked *[]string
}

func (r recording) Name() string { return r.name }

func (r recording) Lookup(_ context.Context, key SchemaKey) ([]byte, error) {
	r.mu.Lock()
	*r.asked = append(*r.asked, r.name)
	r.mu.Unlock()
	if !r.has {
		return nil, ErrNotFound
	}
	return []byte(`{"$schema":"http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#","self":{"vendor":"` +
		key.Vendor + `","name":"` + key.Name + `","format":"jsonschema","version":"` + key.Version() + `"},"type":"object","description":"` + r.name + `"}`), nil
}

// The order of Snowplow's resolver configuration (iglu-scala-client's
// Resolver.prioritize): repositories whose vendorPrefixes match the
// schema's vendor first, then by priority (lower first), ties in
// configuration order; the embedded registry last.
func TestRegistryPriorityAndVendorPrefixes(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	reg := func(name string, has bool) recording { return recording{name: name, has: has, mu: &mu, asked: &asked} }
	regs := []Registry{
		Ranked{Registry: reg("central", false), Priority: 1},
		Ranked{Registry: reg("mirror", false), Priority: 0},
		Ranked{Registry: reg("gitlab", false), Priority: 5, VendorPrefixes: []string{"com.gitlab"}},
		reg("plain", false),
	}
	r := NewResolver(regs, Options{NoEmbedded: true})
	for _, c := range []struct{ uri, want string }{
		{"iglu:com.gitlab/gitlab_standard/jsonschema/1-1-7", "gitlab,mirror,plain,central"},
		{"iglu:com.gitlab.internal/x/jsonschema/1-0-0", "gitlab,mirror,plain,central"},
		{"iglu:com.acme/x/jsonschema/1-0-0", "mirror,plain,central,gitlab"},
	} {
		asked = nil
		_, err := r.Schema(context.Background(), mustKey(t, c.uri))
		if err == nil {
			t.Fatalf("%s: found in registries that hold nothing", c.uri)
		}
		if got := strings.Join(asked, ","); got != c.want {
			t.Errorf("%s: asked %s, want %s", c.uri, got, c.want)
		}
	}
	// The first registry that has the schema answers; the rest are not asked.
	asked = nil
	r = NewResolver([]Registry{Ranked{Registry: reg("central", true), Priority: 1},
		Ranked{Registry: reg("gitlab", true), VendorPrefixes: []string{"com.gitlab"}, Priority: 9}}, Options{NoEmbedded: true})
	if _, err := r.Schema(context.Background(), mustKey(t, "iglu:com.gitlab/gitlab_standard/jsonschema/1-1-7")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(asked, ","); got != "gitlab" {
		t.Errorf("asked %s, want gitlab only", got)
	}
	// With the embedded registry: configured ones first, embedded last.
	asked = nil
	r = NewResolver([]Registry{Ranked{Registry: reg("gitlab", false), VendorPrefixes: []string{"com.gitlab"}}}, Options{})
	if _, err := r.Schema(context.Background(), mustKey(t, "iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9")); err != nil {
		t.Errorf("embedded fallback: %v", err)
	}
	if got := strings.Join(asked, ","); got != "gitlab" {
		t.Errorf("asked %s before the embedded registry, want gitlab", got)
	}
}
