package enrich

import (
	"context"
	"strings"
	"testing"

	"github.com/plowline/plowline/pipeline/badrow"
)

// TestHugeExpansionsBecomeBadRows: tracker JSON that would decode into a
// tree many times its size (issue 12) is answered with bad rows, never
// decoded whole: contexts of 20,000 entities are a schema_violations row
// naming the decoder's limit; a tp2 batch of 130,000 {"e":1} items (not
// strings, so the generic path) yields the first 500 items' own bad rows
// and one size_violation for the rest; and a body of that size that is not
// a batch at all is one size_violation. Every row validates against its
// Iglu schema.
func TestHugeExpansionsBecomeBadRows(t *testing.T) {
	e, _ := newTestEnricher(t)
	ctx := context.Background()

	entities := strings.TrimSuffix(strings.Repeat(webPage(webPageID)+",", 20_000), ",")
	out := e.Enrich(ctx, post(t, map[string]string{"e": "pv", "p": "web", "tv": "js-4.10.1", "co": contextsJSON(entities)}))
	if len(out.Good) != 0 || len(out.Bad) != 1 {
		t.Fatalf("contexts of 20,000 entities: good %d bad %d, want one bad row", len(out.Good), len(out.Bad))
	}
	checkBadRow(t, out.Bad[0], "schema_violations")
	if !strings.Contains(string(out.Bad[0]), "the limits that bound the decoder's memory") {
		t.Errorf("bad row does not say which limit: %.500s", out.Bad[0])
	}

	items := strings.TrimSuffix(strings.Repeat(`{"e":1},`, 130_000), ",")
	out = e.Enrich(ctx, postBody(t, `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[`+items+`]}`))
	types := map[string]int{}
	for _, b := range out.Bad {
		br, err := badrow.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		typ := badrow.TypeOf(br.Schema)
		checkBadRow(t, b, typ)
		types[typ]++
	}
	if len(out.Good) != 0 || types["size_violation"] != 1 || len(out.Bad) != 501 {
		t.Errorf("130,000 number items: good %d, bad rows by type %v; want 500 for the items and one size_violation", len(out.Good), types)
	}

	out = e.Enrich(ctx, postBody(t, `[`+strings.Repeat(`{},`, 340_000)+`{}]`))
	if len(out.Good) != 0 || len(out.Bad) != 1 {
		t.Fatalf("not a batch: good %d bad %d, want one bad row", len(out.Good), len(out.Bad))
	}
	checkBadRow(t, out.Bad[0], "size_violation")
}
