package iglu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/sync/singleflight"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Options tune a Resolver's cache.
type Options struct {
	// CacheSize bounds how many schemas (compiled, or known missing) are kept.
	CacheSize int
	// CacheTTL is how long a resolved schema is trusted before it is looked
	// up again; 0 keeps it until evicted (Iglu schemas are immutable).
	CacheTTL time.Duration
	// MissTTL is how long "not found anywhere" (or a registry failure) is
	// remembered before the registries are asked again, so a schema
	// published later is picked up without hammering the registries.
	MissTTL time.Duration
	// NoEmbedded leaves the embedded registry out (tests of the resolver).
	NoEmbedded bool
}

// Resolver finds schemas in an ordered list of registries and validates
// instances against them. It is safe for concurrent use.
//
// Order: the configured registries — those whose vendor prefixes match the
// schema's vendor first, then by priority, then in configuration order
// (Ranked; as Snowplow's resolver configuration) — then the embedded
// registry.
// The protocol wrappers and the enricher's own derived contexts (see
// pinnedToEmbedded) are looked up in the embedded registry first: they are
// part of the tracker protocol, must work offline, and a registry outage
// must not turn every event into a bad row.
type Resolver struct {
	regs     []Registry
	embedded Registry
	opts     Options
	cache    *lru.Cache
	group    singleflight.Group
	now      func() time.Time
}

// NewResolver returns a resolver over regs (tried in order) and, unless
// opts.NoEmbedded, the embedded registry.
func NewResolver(regs []Registry, opts Options) *Resolver {
	if opts.CacheSize <= 0 {
		opts.CacheSize = 500
	}
	if opts.MissTTL <= 0 {
		opts.MissTTL = 30 * time.Second
	}
	c, _ := lru.New(opts.CacheSize) // only fails for size <= 0
	r := &Resolver{regs: regs, opts: opts, cache: c, now: time.Now}
	if !opts.NoEmbedded {
		r.embedded = Embedded()
	}
	return r
}

// pinnedToEmbedded lists the schemas resolved from the embedded registry
// before any configured one.
var pinnedToEmbedded = map[string]bool{
	"com.snowplowanalytics.snowplow/payload_data":      true,
	"com.snowplowanalytics.snowplow/contexts":          true,
	"com.snowplowanalytics.snowplow/unstruct_event":    true,
	"com.snowplowanalytics.snowplow/ua_parser_context": true,
}

func (r *Resolver) order(key SchemaKey) []Registry {
	regs := prioritize(r.regs, key.Vendor)
	if r.embedded == nil {
		return regs
	}
	if pinnedToEmbedded[key.Vendor+"/"+key.Name] {
		return append([]Registry{r.embedded}, regs...)
	}
	return append(regs, r.embedded)
}

// LookupError is one registry's answer in a failed resolution.
type LookupError struct {
	// Kind is NotFound, RepoFailure or ClientFailure (Iglu client terms).
	Kind    string
	Message string
}

// Lookup is what one registry said during a failed resolution.
type Lookup struct {
	Repository  string
	Errors      []LookupError
	Attempts    int
	LastAttempt time.Time
}

// ResolutionError says a schema was found in no registry.
type ResolutionError struct {
	Key     SchemaKey
	History []Lookup
}

// Error implements error, naming every registry's answer.
func (e *ResolutionError) Error() string {
	var parts []string
	for _, l := range e.History {
		for _, le := range l.Errors {
			s := l.Repository + ": " + le.Kind
			if le.Message != "" {
				s += " (" + le.Message + ")"
			}
			parts = append(parts, s)
		}
	}
	return fmt.Sprintf("schema %s not resolved: %s", e.Key, strings.Join(parts, "; "))
}

// Report is one way an instance failed its schema.
type Report struct {
	Message string
	Path    string // JSONPath into the instance, e.g. $.id or $.items[2]
	Keyword string // the failing JSON Schema keyword
	Targets []string
}

// DataError says an instance is invalid against its (resolved) schema.
type DataError struct {
	Key     SchemaKey
	Reports []Report
}

// Error implements error.
func (e *DataError) Error() string {
	msgs := make([]string, 0, len(e.Reports))
	for _, r := range e.Reports {
		msgs = append(msgs, r.Path+": "+r.Message)
	}
	return fmt.Sprintf("instance invalid against %s: %s", e.Key, strings.Join(msgs, "; "))
}

// Issue is one problem with a schema document itself.
type Issue struct{ Path, Message string }

// SchemaError says the resolved schema cannot be used to validate.
type SchemaError struct {
	Key    SchemaKey
	Issues []Issue
}

// Error implements error.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("schema %s is invalid: %s", e.Key, e.Issues[0].Message)
}

type entry struct {
	schema *jsonschema.Schema
	err    error // *ResolutionError or *SchemaError
	at     time.Time
}

// Schema returns the compiled schema for key, or a *ResolutionError or
// *SchemaError.
func (r *Resolver) Schema(ctx context.Context, key SchemaKey) (*jsonschema.Schema, error) {
	path := key.Path()
	now := r.now()
	if v, ok := r.cache.Get(path); ok {
		e := v.(*entry)
		fresh := true
		var re *ResolutionError
		if errors.As(e.err, &re) {
			fresh = now.Sub(e.at) < r.opts.MissTTL
		} else if r.opts.CacheTTL > 0 {
			fresh = now.Sub(e.at) < r.opts.CacheTTL
		}
		if fresh {
			return e.schema, e.err
		}
	}
	// One lookup per key at a time: a burst of events naming a new schema
	// must not become a burst of registry requests.
	v, _, _ := r.group.Do(path, func() (any, error) {
		// The cached entry may keep key (in its error): clone it, as its
		// strings may share a whole event's memory.
		e := r.resolve(ctx, key.clone())
		r.cache.Add(path, e)
		return e, nil
	})
	e := v.(*entry)
	return e.schema, e.err
}

func (r *Resolver) resolve(ctx context.Context, key SchemaKey) *entry {
	at := r.now()
	raw, history := r.fetch(ctx, key)
	if raw == nil {
		return &entry{err: &ResolutionError{Key: key, History: history}, at: at}
	}
	s, err := r.compile(ctx, key, raw)
	if err != nil {
		return &entry{err: err, at: at}
	}
	return &entry{schema: s, at: at}
}

func (r *Resolver) fetch(ctx context.Context, key SchemaKey) ([]byte, []Lookup) {
	var history []Lookup
	for _, reg := range r.order(key) {
		b, err := reg.Lookup(ctx, key)
		if err == nil {
			return b, nil
		}
		l := Lookup{Repository: reg.Name(), Attempts: 1, LastAttempt: r.now()}
		if errors.Is(err, ErrNotFound) {
			l.Errors = []LookupError{{Kind: "NotFound"}}
		} else {
			l.Errors = []LookupError{{Kind: "RepoFailure", Message: clip(err.Error(), 250)}}
		}
		history = append(history, l)
	}
	if len(history) == 0 {
		history = []Lookup{{Repository: "none", Attempts: 0, LastAttempt: r.now(),
			Errors: []LookupError{{Kind: "ClientFailure", Message: "no registries configured"}}}}
	}
	return nil, history
}

// schemaBase prefixes the URL each compiled schema is registered under; a
// $ref to another Iglu schema (rare, but legal) is resolved through the
// registries by the loader below.
const schemaBase = "https://iglu.schemas.invalid/schemas/"

type registryLoader struct {
	ctx context.Context
	r   *Resolver
}

// Load implements jsonschema.URLLoader for $refs to other Iglu schemas.
func (l registryLoader) Load(url string) (any, error) {
	path, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		return nil, fmt.Errorf("$ref to %s: only Iglu schemas can be referenced", url)
	}
	key, err := ParseURI("iglu:" + path)
	if err != nil {
		return nil, err
	}
	raw, history := l.r.fetch(l.ctx, key)
	if raw == nil {
		return nil, &ResolutionError{Key: key, History: history}
	}
	return decodeSchema(raw)
}

func decodeSchema(raw []byte) (any, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("schema is not a JSON object")
	}
	// Iglu schemas name Snowplow's self-describing meta-schema, a draft-04
	// superset the validator does not know: validate them as draft 4.
	delete(m, "$schema")
	return m, nil
}

func (r *Resolver) compile(ctx context.Context, key SchemaKey, raw []byte) (*jsonschema.Schema, error) {
	doc, err := decodeSchema(raw)
	if err != nil {
		return nil, &SchemaError{Key: key, Issues: []Issue{{Path: "$", Message: err.Error()}}}
	}
	if self, ok := doc.(map[string]any)["self"].(map[string]any); ok {
		got := fmt.Sprintf("%v/%v/%v/%v", self["vendor"], self["name"], self["format"], self["version"])
		if got != key.Path() {
			return nil, &SchemaError{Key: key, Issues: []Issue{{Path: "$.self",
				Message: fmt.Sprintf("schema describes itself as iglu:%s, not %s", clip(got, 200), key)}}}
		}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	c.UseLoader(registryLoader{ctx: ctx, r: r})
	url := schemaBase + key.Path()
	if err := c.AddResource(url, doc); err != nil {
		return nil, &SchemaError{Key: key, Issues: []Issue{{Path: "$", Message: err.Error()}}}
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, &SchemaError{Key: key, Issues: []Issue{{Path: "$", Message: clip(err.Error(), 1000)}}}
	}
	return s, nil
}

// Validate checks instance (decoded with jsonschema.UnmarshalJSON or
// encoding/json with UseNumber) against key's schema. It returns nil, a
// *ResolutionError, a *SchemaError or a *DataError.
func (r *Resolver) Validate(ctx context.Context, key SchemaKey, instance any) error {
	s, err := r.Schema(ctx, key)
	if err != nil {
		return err
	}
	if err := s.Validate(instance); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return &DataError{Key: key, Reports: []Report{{Message: err.Error(), Path: "$"}}}
		}
		return &DataError{Key: key, Reports: reports(ve)}
	}
	return nil
}

var printer = message.NewPrinter(language.English)

// maxReports bounds the reports kept per instance, so one huge invalid
// array cannot blow up the bad row.
const maxReports = 25

func reports(ve *jsonschema.ValidationError) []Report {
	var out []Report
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(out) >= maxReports {
			return
		}
		if len(e.Causes) == 0 {
			kw := ""
			if p := e.ErrorKind.KeywordPath(); len(p) > 0 {
				kw = p[len(p)-1]
			}
			out = append(out, Report{Message: e.ErrorKind.LocalizedString(printer), Path: jsonPath(e.InstanceLocation), Keyword: kw})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if len(out) == 0 {
		out = []Report{{Message: ve.Error(), Path: "$"}}
	}
	return out
}

func jsonPath(tokens []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil {
			b.WriteString("[" + t + "]")
		} else {
			b.WriteString("." + t)
		}
	}
	return b.String()
}
