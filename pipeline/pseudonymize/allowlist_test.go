package pseudonymize

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/event"
)

func TestDefaultAllowlist(t *testing.T) {
	a := DefaultAllowlist()
	for _, name := range []string{"event_id", "app_id", "collector_tstamp", "event", "v_tracker", "br_family", "os_family", "dvce_type", "geo_country"} {
		f, _ := event.FieldByName(name)
		if !a.KeepsField(f) {
			t.Errorf("default allowlist pseudonymizes %s; it must keep it", name)
		}
	}
	for _, name := range []string{"user_id", "user_ipaddress", "domain_userid", "network_userid", "domain_sessionid", "user_fingerprint",
		"page_url", "page_urlpath", "page_urlquery", "page_referrer", "refr_urlhost", "useragent", "page_title", "se_label",
		"mkt_campaign", "mkt_clickid", "geo_city", "geo_zipcode", "geo_latitude", "geo_longitude", "ip_organization"} {
		f, _ := event.FieldByName(name)
		if a.KeepsField(f) {
			t.Errorf("default allowlist keeps %s in clear", name)
		}
	}
	if got := a.KeptPaths("iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9"); !slices.Contains(got, "environment") || slices.Contains(got, "user_id") {
		t.Errorf("gitlab_standard kept paths = %v", got)
	}
	if got := a.KeptPaths("iglu:com.gitlab/gitlab_standard/jsonschema/2-0-0"); len(got) != 0 {
		t.Errorf("a new model must not inherit 1-*-* rules: %v", got)
	}
	// The text ships with comments explaining each group.
	if !strings.Contains(string(DefaultAllowlistYAML()), "# --- Event identity") {
		t.Error("default allowlist lost its comments")
	}
}

func TestParseAllowlistErrors(t *testing.T) {
	cases := map[string][]string{
		"fields: [app_id, ap_idd]":                               {"fields[1]", `"ap_idd"`},
		"fields: [contexts]":                                     {"fields[0]", `"contexts"`},
		"field: [app_id]":                                        {"field"},
		"schemas:\n  com.acme/x/jsonschema/1-0-0: [a]":           {`"com.acme/x/jsonschema/1-0-0"`, "iglu:"},
		"schemas:\n  iglu:com.acme/x/jsonschema/1-0: [a]":        {`"iglu:com.acme/x/jsonschema/1-0"`},
		"schemas:\n  iglu:com.acme/x/jsonschema/1-x-*: [a]":      {`"iglu:com.acme/x/jsonschema/1-x-*"`},
		"schemas:\n  iglu:com.acme/*/jsonschema/1-0-0: [a]":      {`"iglu:com.acme/*/jsonschema/1-0-0"`},
		"schemas:\n  iglu:com.acme/x/jsonschema/1-*-*: ['a..b']": {`"a..b"`, "empty key"},
		"schemas:\n  iglu:com.acme/x/jsonschema/1-*-*: ['a[0]']": {`"a[0]"`, "[*]"},
		"schemas:\n  iglu:com.acme/x/jsonschema/1-*-*: ['']":     {"empty path"},
		"schemas:\n  iglu:com.acme/x/jsonschema/1-*-*: [a*]":     {`"a*"`},
		"fields: {app_id: true}":                                 {"parsing allowlist"},
	}
	for in, wants := range cases {
		_, err := ParseAllowlist([]byte(in))
		if err == nil {
			t.Errorf("%q: no error", in)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %s", in, err, w)
			}
		}
	}
}

func TestAllowlistPathsAndWildcards(t *testing.T) {
	a, err := ParseAllowlist([]byte(`
fields: [app_id]
schemas:
  iglu:com.acme/thing/jsonschema/1-*-*:
    - $.a.b
    - list[*].name
    - matrix[*][*]
    - whole
  iglu:com.acme/thing/jsonschema/1-0-*:
    - extra_in_1_0
  iglu:com.acme/all/jsonschema/*-*-*:
    - $
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(a, []byte("k"))
	h := p.Pseudonym
	ctx := func(schema, data string) string {
		var e event.Event
		e[event.Contexts] = `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"` + schema + `","data":` + data + `}]}`
		out, err := p.Transform(nil, e.AppendTSV(nil))
		if err != nil {
			t.Fatal(err)
		}
		v, _ := event.FieldOf(string(out), event.Contexts)
		return strings.TrimSuffix(strings.TrimPrefix(v, `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"`+schema+`","data":`), "}]}")
	}
	got := ctx("iglu:com.acme/thing/jsonschema/1-0-3",
		`{"a":{"b":"keep","c":"hide"},"list":[{"name":"n1","id":"i1"}],"matrix":[[1,2],[3]],"whole":{"x":[1,{"y":"z"}]},"extra_in_1_0":"k2","other":true}`)
	// Keys the allowlist does not name are pseudonymized like values.
	want := `{"a":{"b":"keep","` + h("c") + `":"` + h("hide") + `"},"list":[{"name":"n1","` + h("id") + `":"` + h("i1") + `"}],"matrix":[[1,2],[3]],"whole":{"x":[1,{"y":"z"}]},"extra_in_1_0":"k2","` + h("other") + `":"` + h("true") + `"}`
	if got != want {
		t.Errorf("1-0-3:\n got %s\nwant %s", got, want)
	}
	// 1-1-0 matches only the 1-*-* rule.
	if got := ctx("iglu:com.acme/thing/jsonschema/1-1-0", `{"extra_in_1_0":"k2","a":{"b":"keep"}}`); got != `{"`+h("extra_in_1_0")+`":"`+h("k2")+`","a":{"b":"keep"}}` {
		t.Errorf("1-1-0: %s", got)
	}
	if got := ctx("iglu:com.acme/all/jsonschema/3-2-1", `{"any":["thing",1]}`); got != `{"any":["thing",1]}` {
		t.Errorf("$: %s", got)
	}
	// A different vendor gets nothing kept.
	if got := ctx("iglu:com.other/thing/jsonschema/1-0-0", `{"a":{"b":"keep"}}`); got != `{"`+h("a")+`":{"`+h("b")+`":"`+h("keep")+`"}}` {
		t.Errorf("other vendor: %s", got)
	}
}

func TestLoadAllowlist(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.yaml")
	os.WriteFile(path, []byte("fields: [app_id, event_id]\n"), 0o600)
	a, err := LoadAllowlist(path)
	if err != nil || !a.KeepsField(event.EventID) || a.KeepsField(event.UserID) {
		t.Fatalf("LoadAllowlist: %v", err)
	}
	os.WriteFile(path, []byte("fields: [nope]\n"), 0o600)
	if _, err := LoadAllowlist(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("error %v should name the file and the value", err)
	}
	if _, err := LoadAllowlist(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
	// The embedded default is the same file as in the repository.
	disk, err := os.ReadFile("default-allowlist.yaml")
	if err != nil || string(disk) != string(DefaultAllowlistYAML()) {
		t.Fatal("embedded default differs from default-allowlist.yaml")
	}
}
