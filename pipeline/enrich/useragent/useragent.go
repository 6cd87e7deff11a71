// Package useragent parses User-Agent strings with ua-parser (its regexes
// are compiled into the binary) into Snowplow's ua_parser_context derived
// context, caching the rendered context per agent: real traffic repeats a
// small set of agents, and a miss costs hundreds of regular expressions.
package useragent

import (
	"encoding/json"
	"fmt"
	"strings"

	lru "github.com/hashicorp/golang-lru"
	"github.com/ua-parser/uap-go/uaparser"
)

// Schema is the Iglu URI of the context this package produces.
const Schema = "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0"

// maxAgentBytes bounds the agent text parsed: longer agents are cut
// before parsing. Regex cost grows with length (a 2 KiB agent takes tens
// of milliseconds, an attack vector with unique agents); real agents are
// far shorter and identify themselves in their first few hundred bytes.
const maxAgentBytes = 512

// Parser turns agents into contexts. It is safe for concurrent use.
type Parser struct {
	uap   *uaparser.Parser
	cache *lru.Cache
}

// New compiles the regexes (tens of milliseconds) and sizes the cache.
func New(cacheSize int) (*Parser, error) {
	if cacheSize <= 0 {
		return nil, fmt.Errorf("user-agent cache size %d: must be positive", cacheSize)
	}
	// ua-parser's own caches would hold the same agents a second time.
	uap, err := uaparser.New(uaparser.WithCacheSize(64))
	if err != nil {
		return nil, fmt.Errorf("loading ua-parser regexes: %w", err)
	}
	c, err := lru.New(cacheSize)
	if err != nil {
		return nil, err
	}
	return &Parser{uap: uap, cache: c}, nil
}

// Context is the parsed agent in ua_parser_context form.
type Context struct {
	UseragentFamily  string  `json:"useragentFamily"`
	UseragentMajor   *string `json:"useragentMajor"`
	UseragentMinor   *string `json:"useragentMinor"`
	UseragentPatch   *string `json:"useragentPatch"`
	UseragentVersion string  `json:"useragentVersion"`
	OSFamily         string  `json:"osFamily"`
	OSMajor          *string `json:"osMajor"`
	OSMinor          *string `json:"osMinor"`
	OSPatch          *string `json:"osPatch"`
	OSPatchMinor     *string `json:"osPatchMinor"`
	OSVersion        string  `json:"osVersion"`
	DeviceFamily     string  `json:"deviceFamily"`
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func version(family string, parts ...string) string {
	v := family
	for i, p := range parts {
		if p == "" {
			break
		}
		if i == 0 {
			v += " " + p
		} else {
			v += "." + p
		}
	}
	return v
}

// Parse returns the agent's context.
func (p *Parser) Parse(agent string) Context {
	if len(agent) > maxAgentBytes {
		agent = agent[:maxAgentBytes]
	}
	c := p.uap.Parse(agent)
	ua, os, dev := c.UserAgent, c.Os, c.Device
	return Context{
		UseragentFamily: ua.Family, UseragentMajor: opt(ua.Major), UseragentMinor: opt(ua.Minor), UseragentPatch: opt(ua.Patch),
		UseragentVersion: version(ua.Family, ua.Major, ua.Minor, ua.Patch),
		OSFamily:         os.Family, OSMajor: opt(os.Major), OSMinor: opt(os.Minor), OSPatch: opt(os.Patch), OSPatchMinor: opt(os.PatchMinor),
		OSVersion:    version(os.Family, os.Major, os.Minor, os.Patch, os.PatchMinor),
		DeviceFamily: dev.Family,
	}
}

// ContextsSchema is the wrapper of the derived_contexts field.
const ContextsSchema = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"

type entry struct {
	sd       []byte // {"schema":...,"data":{...}}
	contexts string // the contexts wrapper holding only sd
}

func (p *Parser) entry(agent string) *entry {
	if v, ok := p.cache.Get(agent); ok {
		return v.(*entry)
	}
	data, _ := json.Marshal(p.Parse(agent)) // plain strings: cannot fail
	sd := make([]byte, 0, len(data)+len(Schema)+24)
	sd = append(sd, `{"schema":"`+Schema+`","data":`...)
	sd = append(sd, data...)
	sd = append(sd, '}')
	e := &entry{sd: sd, contexts: `{"schema":"` + ContextsSchema + `","data":[` + string(sd) + `]}`}
	// The agent may be a slice of a whole collector payload (payload.Unmarshal
	// slices one copy of the record): clone it so the cache keeps only the key.
	p.cache.Add(strings.Clone(agent), e)
	return e
}

// SelfDescribing returns the agent's context as a self-describing JSON
// object ({"schema":...,"data":{...}}), rendered once per distinct agent.
// The slice is shared between callers: never modify it.
func (p *Parser) SelfDescribing(agent string) []byte { return p.entry(agent).sd }

// DerivedContexts returns a derived_contexts value (a contexts 1-0-1
// wrapper) holding only the agent's context, rendered once per agent: the
// enricher's only derived context, so the common case needs no assembly.
func (p *Parser) DerivedContexts(agent string) string { return p.entry(agent).contexts }

// CacheLen reports how many agents are cached (tests, diagnostics).
func (p *Parser) CacheLen() int { return p.cache.Len() }
