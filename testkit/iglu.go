package testkit

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich/iglu"
)

var (
	igluOnce     sync.Once
	igluResolver *iglu.Resolver
)

// IgluCentral returns a resolver over the repository's copy of Iglu Central only
// (no embedded schemas), the production resolver the enricher uses.
func IgluCentral(t testing.TB) *iglu.Resolver {
	t.Helper()
	dir := filepath.Join(TestData(t), "iglu-central")
	igluOnce.Do(func() {
		igluResolver = iglu.NewResolver([]iglu.Registry{iglu.DirRegistry{Root: dir}}, iglu.Options{NoEmbedded: true})
	})
	return igluResolver
}

// ValidateBadRow parses a bad-row line and fails the test unless its data
// validates against its schema in Iglu Central.
func ValidateBadRow(t testing.TB, line []byte) badrow.BadRow {
	t.Helper()
	b, err := badrow.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	key, err := iglu.ParseURI(b.Schema)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Data))
	if err != nil {
		t.Fatal(err)
	}
	if err := IgluCentral(t).Validate(context.Background(), key, inst); err != nil {
		t.Fatalf("%s does not validate against Iglu Central: %v\n%s", b.Schema, err, b.Data)
	}
	return b
}
