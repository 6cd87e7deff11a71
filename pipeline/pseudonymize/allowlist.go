package pseudonymize

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/plowline/plowline/pipeline/event"
)

// Allowlist says what survives pseudonymization in clear: atomic fields of
// the enriched event by name, and, per Iglu schema pattern, JSON paths inside
// self-describing data (contexts, derived_contexts, unstruct_event entities
// and bad rows). Everything not named is pseudonymized.
//
// The YAML form:
//
//	fields:            # atomic enriched-event fields kept in clear
//	  - app_id
//	schemas:           # Iglu schema pattern → JSON paths kept in clear
//	  iglu:org.schema/WebPage/jsonschema/1-*-*:
//	    - genre
//	    - breadcrumb[*]
//
// A schema pattern is iglu:<vendor>/<name>/<format>/<M>-<R>-<A> where each of
// M, R and A is a number or "*". A path is a dotted list of object keys
// relative to the entity's data, each key optionally followed by "[*]" (every
// element of an array); a leading "$." is accepted and "$" alone is the whole
// data. A path that ends at an object or array keeps everything below it.
// Object keys are always kept (they are the structure, not the values).
// An Allowlist is immutable once built and safe for concurrent use.
type Allowlist struct {
	fields     [event.NumFields]bool
	fieldCheck [event.NumFields]vocab
	rules      []schemaRule
}

type schemaRule struct {
	pattern              string
	vendor, name, format string
	version              [3]int // -1 is the wildcard
	paths                []string
	root                 *node
	// derived rules apply only to entities the enricher made (in
	// derived_contexts); a tracker-sent entity of the schema is unknown.
	derived bool
}

// node is one step of the compiled path trie.
type node struct {
	keep bool // this value and everything below it is kept
	// check, with keep, keeps only a string value in this vocabulary
	// (anything else is pseudonymized).
	check    vocab
	children map[string]*node // object keys
	elem     *node            // [*]
	// maxLen, when set, bounds a pseudonym written here (a bad-row
	// schema's maxLength under 64: the pseudonym is cut to it).
	maxLen int
	// typed: the schema wants a number or boolean (or null) here; one not
	// kept becomes null, never a pseudonym string.
	typed bool
	// sd marks a value that is itself a self-describing JSON object
	// ({"schema": ..., "data": ...}); its data is walked with the rules for
	// its own schema, as allowed at position sd. Only the built-in roots and
	// wrapper schemas set it.
	sd position
}

// position says where a self-describing object sits, which decides the
// schemas it may have: a TSV contexts field must hold the contexts
// wrapper, an unstruct_event field the unstruct_event wrapper, a bad row a
// bad-row schema; an entity anything but a wrapper; and only an entity of
// derived_contexts (made by the enricher) gets the derived rules.
type position uint8

const (
	posNone position = iota
	posBadRow
	posContexts
	posDerivedContexts
	posUnstruct
	posEntity
	posDerivedEntity
	numPositions
)

var keepAll = &node{keep: true}

type allowlistYAML struct {
	Fields  []string            `yaml:"fields"`
	Schemas map[string][]string `yaml:"schemas"`
	Derived []string            `yaml:"derived"`
}

// LoadAllowlist reads an allowlist YAML file.
func LoadAllowlist(path string) (*Allowlist, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading allowlist: %w", err)
	}
	a, err := ParseAllowlist(b)
	if err != nil {
		return nil, fmt.Errorf("allowlist %s: %w", path, err)
	}
	return a, nil
}

// ParseAllowlist parses allowlist YAML. Unknown keys, unknown atomic field
// names, malformed schema patterns and malformed paths are errors naming
// the key and the value.
func ParseAllowlist(data []byte) (*Allowlist, error) {
	var raw allowlistYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing allowlist YAML: %w", err)
	}
	a := &Allowlist{}
	for i, entry := range raw.Fields {
		name, check, err := a.splitVocab(entry)
		if err != nil {
			return nil, fmt.Errorf("fields[%d]: %q: %w", i, entry, err)
		}
		f, ok := event.FieldByName(name)
		if !ok {
			return nil, fmt.Errorf("fields[%d]: unknown atomic field %q (want one of the 131 enriched-event column names)", i, name)
		}
		if k := f.Kind(); k == event.KindContexts || k == event.KindUnstruct {
			return nil, fmt.Errorf("fields[%d]: %q holds self-describing JSON; keep paths inside it under schemas: instead", i, name)
		}
		a.fields[f] = true
		a.fieldCheck[f] = check
	}
	derived := map[string]bool{}
	for i, p := range raw.Derived {
		if _, ok := raw.Schemas[p]; !ok {
			return nil, fmt.Errorf("derived[%d]: %q is not a pattern under schemas: (list it there with the paths to keep)", i, p)
		}
		derived[p] = true
	}
	patterns := make([]string, 0, len(raw.Schemas))
	for p := range raw.Schemas {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, p := range patterns {
		r, err := parsePattern(p)
		if err != nil {
			return nil, fmt.Errorf("schemas: key %q: %w", p, err)
		}
		r.root = &node{}
		r.derived = derived[p]
		for i, path := range raw.Schemas[p] {
			pth, check, err := a.splitVocab(path)
			if err != nil {
				return nil, fmt.Errorf("schemas: %q[%d]: %q: %w", p, i, path, err)
			}
			if err := addPath(r.root, pth, check); err != nil {
				return nil, fmt.Errorf("schemas: %q[%d]: path %q: %w", p, i, path, err)
			}
			r.paths = append(r.paths, path)
		}
		if r.vendor == "com.snowplowanalytics.snowplow.badrows" {
			constrainBadRow(r.root, r.name)
		}
		a.rules = append(a.rules, r)
	}
	return a, nil
}

// badRowLimits are the bad-row schemas' string maxLengths below a
// pseudonym's 64 characters (Iglu Central; a test checks them).
var badRowLimits = map[string]map[string]int{
	"adapter_failures":            {"failure.version": 16, "payload.version": 16},
	"tracker_protocol_violations": {"failure.version": 16, "payload.version": 16},
	"schema_violations":           {"payload.raw.version": 16},
	"enrichment_failures":         {"payload.raw.version": 16},
}

// constrainBadRow marks, under the trie of a bad-row type, where a
// pseudonym must be shorter and where a value must stay a number (the
// typed enriched-event columns of payload.enriched): a pseudonymized bad
// row still validates against its schema.
func constrainBadRow(root *node, name string) {
	at := func(path string) *node {
		n := root
		for _, seg := range strings.Split(path, ".") {
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c := n.children[seg]
			if c == nil {
				c = &node{}
				n.children[seg] = c
			}
			n = c
		}
		return n
	}
	for path, max := range badRowLimits[name] {
		at(path).maxLen = max
	}
	if name == "schema_violations" || name == "enrichment_failures" {
		for f := event.Field(0); f < event.NumFields; f++ {
			if k := f.Kind(); k == event.KindInt || k == event.KindFloat || k == event.KindBool {
				at("payload.enriched." + f.Name()).typed = true
			}
		}
	}
}

//go:embed default-allowlist.yaml
var defaultYAML []byte

var defaultOnce = sync.OnceValue(func() *Allowlist {
	a, err := ParseAllowlist(defaultYAML)
	if err != nil {
		// The file is embedded at build time and parsed by the tests.
		panic("pseudonymize: embedded default allowlist is invalid: " + err.Error())
	}
	return a
})

// DefaultAllowlist returns the embedded default allowlist
// (default-allowlist.yaml, which explains each group it keeps).
func DefaultAllowlist() *Allowlist { return defaultOnce() }

// DefaultAllowlistYAML returns the text of the embedded default allowlist,
// a starting point for a custom one.
func DefaultAllowlistYAML() []byte { return bytes.Clone(defaultYAML) }

// KeepsField reports whether atomic field f is kept in clear (possibly
// only for values in its vocabulary).
func (a *Allowlist) KeepsField(f event.Field) bool {
	return f >= 0 && f < event.NumFields && a.fields[f]
}

// KeptPaths returns the paths kept in clear for data of the given Iglu URI,
// from every pattern that matches it.
func (a *Allowlist) KeptPaths(schema string) []string {
	k, err := event.ParseSchemaKey(schema)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range a.rules {
		if r.matches(k) {
			out = append(out, r.paths...)
		}
	}
	return out
}

func parsePattern(p string) (schemaRule, error) {
	rest, ok := strings.CutPrefix(p, "iglu:")
	if !ok {
		return schemaRule{}, errors.New("schema pattern must start with iglu:")
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return schemaRule{}, errors.New("schema pattern must be iglu:vendor/name/format/M-R-A")
	}
	for _, s := range parts[:3] {
		if strings.ContainsAny(s, "* \t") {
			return schemaRule{}, fmt.Errorf("%q: only the version may hold wildcards", s)
		}
	}
	ver := strings.Split(parts[3], "-")
	if len(ver) != 3 {
		return schemaRule{}, fmt.Errorf("version %q is not M-R-A (each a number or *)", parts[3])
	}
	r := schemaRule{pattern: p, vendor: parts[0], name: parts[1], format: parts[2]}
	for i, v := range ver {
		if v == "*" {
			r.version[i] = -1
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || v[0] == '+' {
			return schemaRule{}, fmt.Errorf("version %q is not M-R-A (each a number or *)", parts[3])
		}
		r.version[i] = n
	}
	return r, nil
}

func (r *schemaRule) matches(k event.SchemaKey) bool {
	if r.vendor != k.Vendor || r.name != k.Name || r.format != k.Format {
		return false
	}
	for i, v := range [3]int{k.Model, k.Revision, k.Addition} {
		if r.version[i] >= 0 && r.version[i] != v {
			return false
		}
	}
	return true
}

// splitVocab splits "path in vocabulary" into the path and the
// vocabulary's check (nil when there is no "in").
func (a *Allowlist) splitVocab(entry string) (string, vocab, error) {
	path, name, ok := strings.Cut(entry, " in ")
	if !ok {
		return strings.TrimSpace(entry), nil, nil
	}
	name = strings.TrimSpace(name)
	if name == "known-schema" {
		return strings.TrimSpace(path), a.knownSchema, nil
	}
	v, ok := vocabularies[name]
	if !ok {
		names := make([]string, 0, len(vocabularies)+1)
		for n := range vocabularies {
			names = append(names, n)
		}
		names = append(names, "known-schema")
		sort.Strings(names)
		return "", nil, fmt.Errorf("unknown vocabulary %q (want one of %s)", name, strings.Join(names, ", "))
	}
	return strings.TrimSpace(path), v, nil
}

// knownSchema is the known-schema vocabulary: an Iglu URI that one of the
// allowlist's own (non-derived) patterns or a Snowplow wrapper names (or
// the atomic schema, which atomic-field reports name). A
// URI a tracker made up ("iglu:com.acme/jane_doe/jsonschema/1-0-0") is
// not kept in a bad row that quotes it.
func (a *Allowlist) knownSchema(s string) bool {
	k, err := event.ParseSchemaKey(s)
	if err != nil {
		return false
	}
	if k.Vendor == "com.snowplowanalytics.snowplow" && k.Format == "jsonschema" &&
		(k.Name == "contexts" || k.Name == "unstruct_event" || k.Name == "payload_data" || k.Name == "atomic") {
		return true
	}
	for i := range a.rules {
		if !a.rules[i].derived && a.rules[i].matches(k) {
			return true
		}
	}
	return false
}

// keepWith marks n kept, with check (nil: unconditionally). Kept by two
// paths, a value is kept when either would keep it.
func keepWith(n *node, check vocab) {
	switch {
	case !n.keep:
		n.keep, n.check = true, check
	case n.check == nil:
	case check == nil:
		n.check = nil
	default:
		a, b := n.check, check
		n.check = func(s string) bool { return a(s) || b(s) }
	}
}

// addPath compiles one path into the trie under root; check (may be nil)
// restricts what is kept at its end.
func addPath(root *node, path string, check vocab) error {
	p := strings.TrimSpace(path)
	if p == "" {
		return errors.New("empty path (use $ for the whole data)")
	}
	if p == "$" {
		keepWith(root, check)
		return nil
	}
	if rest, ok := strings.CutPrefix(p, "$."); ok {
		p = rest
	} else if strings.HasPrefix(p, "$[") {
		p = p[1:]
	}
	n := root
	for i, seg := range strings.Split(p, ".") {
		name, arrays, _ := strings.Cut(seg, "[")
		if arrays != "" {
			arrays = "[" + arrays
		}
		if name == "" && (i > 0 || arrays == "") {
			return errors.New("empty key (paths look like a.b[*].c)")
		}
		if strings.ContainsAny(name, "]*$\"' \t") {
			return fmt.Errorf("key %q has a character that is not allowed in a path key", name)
		}
		if name != "" {
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c := n.children[name]
			if c == nil {
				c = &node{}
				n.children[name] = c
			}
			n = c
		}
		for arrays != "" {
			if !strings.HasPrefix(arrays, "[*]") {
				return fmt.Errorf("%q: only [*] may follow a key", seg)
			}
			arrays = arrays[3:]
			if n.elem == nil {
				n.elem = &node{}
			}
			n = n.elem
		}
	}
	keepWith(n, check)
	return nil
}

// merge adds everything src keeps into dst.
func merge(dst, src *node) {
	if src.keep {
		keepWith(dst, src.check)
	}
	if src.maxLen > 0 && (dst.maxLen == 0 || src.maxLen < dst.maxLen) {
		dst.maxLen = src.maxLen
	}
	dst.typed = dst.typed || src.typed
	for k, c := range src.children {
		if dst.children == nil {
			dst.children = map[string]*node{}
		}
		d := dst.children[k]
		if d == nil {
			d = &node{}
			dst.children[k] = d
		}
		merge(d, c)
	}
	if src.elem != nil {
		if dst.elem == nil {
			dst.elem = &node{}
		}
		merge(dst.elem, src.elem)
	}
}

// Built-in handling of Snowplow's wrapper schemas: the data of a contexts
// wrapper is an array of self-describing entities, that of an
// unstruct_event wrapper one self-describing event.
var (
	contextsData        = &node{elem: &node{sd: posEntity}}
	derivedContextsData = &node{elem: &node{sd: posDerivedEntity}}
	unstructData        = &node{sd: posEntity}
)

// resolve returns the trie for data described by schema at position pos
// (nil: pseudonymize everything) and whether the schema string itself is
// kept in clear (a valid Iglu URI allowed at pos).
func (a *Allowlist) resolve(schema string, pos position) (*node, bool) {
	k, err := event.ParseSchemaKey(schema)
	if err != nil {
		return nil, false
	}
	wrapper := ""
	if k.Vendor == "com.snowplowanalytics.snowplow" && k.Format == "jsonschema" && (k.Name == "contexts" || k.Name == "unstruct_event") {
		wrapper = k.Name
	}
	switch pos {
	case posContexts, posDerivedContexts:
		if wrapper != "contexts" {
			return nil, false
		}
		if pos == posDerivedContexts {
			return derivedContextsData, true
		}
		return contextsData, true
	case posUnstruct:
		if wrapper != "unstruct_event" {
			return nil, false
		}
		return unstructData, true
	case posBadRow:
		if k.Vendor != "com.snowplowanalytics.snowplow.badrows" {
			return nil, false
		}
	}
	if wrapper != "" {
		// A wrapper nested inside an entity: the enricher validates only
		// the top-level wrapper's entities, so nothing below is trusted.
		return nil, true
	}
	var out *node
	n := 0
	for i := range a.rules {
		if a.rules[i].derived && pos != posDerivedEntity {
			continue
		}
		if a.rules[i].matches(k) {
			if n == 0 {
				out = a.rules[i].root
			} else {
				if n == 1 {
					m := &node{}
					merge(m, out)
					out = m
				}
				merge(out, a.rules[i].root)
			}
			n++
		}
	}
	if out != nil && out.keep && out.check == nil {
		out = keepAll
	}
	return out, true
}
