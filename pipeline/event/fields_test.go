package event

import "testing"

func TestFieldTableMatchesConstants(t *testing.T) {
	if fieldCount != NumFields {
		t.Fatalf("%d field constants, want %d", fieldCount, NumFields)
	}
	seen := map[string]bool{}
	for i, s := range specs {
		if s.name == "" {
			t.Fatalf("field %d has no name", i)
		}
		if seen[s.name] {
			t.Fatalf("field name %q repeated", s.name)
		}
		seen[s.name] = true
	}
	checks := map[Field]string{AppID: "app_id", EventType: "event", Contexts: "contexts",
		UnstructEvent: "unstruct_event", DerivedContexts: "derived_contexts", TrueTstamp: "true_tstamp",
		Useragent: "useragent", NetworkUserID: "network_userid"}
	for f, want := range checks {
		if f.Name() != want {
			t.Errorf("field %d named %q, want %q", int(f), f.Name(), want)
		}
	}
}
