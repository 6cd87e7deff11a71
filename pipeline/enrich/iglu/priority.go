package iglu

import (
	"slices"
	"strings"
)

// Ranked is a registry with the two settings of a repository in
// Snowplow's Iglu resolver configuration (resolver-config 1-0-x):
// priority (lower is tried first) and vendorPrefixes (a registry whose
// prefixes match the schema's vendor is tried before those that do not).
type Ranked struct {
	Registry
	Priority       int
	VendorPrefixes []string
}

// vendorMatched reports whether the vendor starts with one of the
// registry's prefixes, as the Iglu Scala client's vendorMatched does.
func vendorMatched(r Registry, vendor string) bool {
	rk, ok := r.(Ranked)
	if !ok {
		return false
	}
	for _, p := range rk.VendorPrefixes {
		if strings.HasPrefix(vendor, p) {
			return true
		}
	}
	return false
}

func priority(r Registry) int {
	if rk, ok := r.(Ranked); ok {
		return rk.Priority
	}
	return 0
}

// prioritize orders the configured registries for one schema as the Iglu
// Scala client's Resolver.prioritize does: vendor-matched registries
// first, then by priority, ties in configuration order. (Snowplow's client
// also puts its embedded repositories before HTTP ones; plowline's
// embedded registry is a fallback instead, see Resolver.)
func prioritize(regs []Registry, vendor string) []Registry {
	out := slices.Clone(regs)
	slices.SortStableFunc(out, func(a, b Registry) int {
		am, bm := vendorMatched(a, vendor), vendorMatched(b, vendor)
		if am != bm {
			if am {
				return -1
			}
			return 1
		}
		return priority(a) - priority(b)
	})
	return out
}
