package iglu

import (
	"strconv"
	"strings"
	"testing"
)

// TestVersionAndPath checks the precomputed and appended renderings
// against plain concatenation.
func TestVersionAndPath(t *testing.T) {
	vendor := strings.Repeat("com.example.", 12) // longer than Path's stack buffer
	for _, m := range []int{0, 1, 9, 10, 123, -1} {
		for _, r := range []int{0, 5, 9, 10, -2} {
			for _, a := range []int{0, 1, 9, 11, 100000} {
				for _, v := range []string{"com.acme", vendor} {
					k := SchemaKey{Vendor: v, Name: "n", Format: "jsonschema", Model: m, Revision: r, Addition: a}
					want := strconv.Itoa(m) + "-" + strconv.Itoa(r) + "-" + strconv.Itoa(a)
					if got := k.Version(); got != want {
						t.Fatalf("%+v: Version %q, want %q", k, got, want)
					}
					if got, want := k.Path(), v+"/n/jsonschema/"+want; got != want {
						t.Fatalf("%+v: Path %q, want %q", k, got, want)
					}
				}
			}
		}
	}
}
