// Package demo generates realistic Snowplow traffic for `plowline run
// --demo` and for load tests: page views from the browser tracker,
// structured events from GitLab's Rails tracker carrying GitLab's standard
// context (iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9), and a share
// of invalid events (a context that breaks its schema, an event whose schema
// exists nowhere) that must end up as bad rows. Everything goes through the
// real collector over HTTP as tracker-protocol POST batches.
package demo

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// PostPath is the tracker protocol's POST endpoint.
const PostPath = "/com.snowplowanalytics.snowplow/tp2"

// Config configures the generator.
type Config struct {
	// CollectorURL is the collector's base URL.
	CollectorURL string
	// Rate is events per second; BatchSize events go in one request.
	Rate      float64
	BatchSize int
	// InvalidFraction of events are built to fail validation (0..1).
	InvalidFraction float64
	Seed            uint64
	Client          *http.Client
	Log             *slog.Logger
}

// DefaultConfig sends 20 events/s in batches of 10, 2% invalid: a healthy
// pipeline's share of bad rows, below PlowlineBadEventRatioHigh's 5% threshold so
// the demo never pages on its own.
func DefaultConfig(collectorURL string) Config {
	return Config{CollectorURL: collectorURL, Rate: 20, BatchSize: 10, InvalidFraction: 0.02, Seed: uint64(time.Now().UnixNano())}
}

// Validate refuses impossible settings, naming them.
func (c Config) Validate() error {
	switch {
	case c.CollectorURL == "":
		return errors.New("demo: collector URL is empty")
	case c.Rate <= 0 || c.Rate > 1e6:
		return fmt.Errorf("demo: rate %v events/s is outside (0, 1000000]", c.Rate)
	case c.BatchSize < 1 || c.BatchSize > 1000:
		return fmt.Errorf("demo: batch size %d is outside 1..1000", c.BatchSize)
	case c.InvalidFraction < 0 || c.InvalidFraction > 1:
		return fmt.Errorf("demo: invalid fraction %v is outside [0, 1]", c.InvalidFraction)
	}
	return nil
}

// Stats counts what the generator sent.
type Stats struct {
	Requests atomic.Int64 // requests the collector accepted (2xx)
	Valid    atomic.Int64 // valid events in accepted requests
	Invalid  atomic.Int64 // invalid events in accepted requests
	Rejected atomic.Int64 // events in requests that failed (not 2xx or no answer)
}

// Run sends events at the configured rate until ctx ends.
func Run(ctx context.Context, cfg Config, st *Stats) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := NewBuilder(cfg.Seed, cfg.InvalidFraction)
	interval := time.Duration(float64(time.Second) * float64(cfg.BatchSize) / cfg.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		body, valid, invalid := b.Batch(cfg.BatchSize)
		// A request once sent is seen through even if ctx ends meanwhile,
		// so the counts say exactly what the collector acknowledged.
		if err := Post(context.WithoutCancel(ctx), cfg.Client, cfg.CollectorURL, body); err != nil {
			st.Rejected.Add(int64(valid + invalid))
			cfg.Log.Warn("demo request failed", "err", err)
			continue
		}
		st.Requests.Add(1)
		st.Valid.Add(int64(valid))
		st.Invalid.Add(int64(invalid))
	}
}

// Post sends one tracker-protocol batch body to the collector.
func Post(ctx context.Context, c *http.Client, collectorURL string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, collectorURL+PostPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("collector answered %s", resp.Status)
	}
	return nil
}

// Builder builds tracker-protocol batches. It is not safe for concurrent use.
type Builder struct {
	rng     *rand.Rand
	invalid float64
	buf     bytes.Buffer
	// LastIDs holds the event ids of the last batch; LastValid says which
	// of them are valid.
	LastIDs   []string
	LastValid []bool
}

// NewBuilder returns a builder whose choices follow seed.
func NewBuilder(seed uint64, invalidFraction float64) *Builder {
	return &Builder{rng: rand.New(rand.NewPCG(seed, 0x706c6f77)), invalid: invalidFraction}
}

var (
	paths   = []string{"/gitlab-org/gitlab/-/issues", "/gitlab-org/gitlab/-/merge_requests/1234", "/dashboard/projects", "/users/sign_in", "/gitlab-com/www-gitlab-com/-/pipelines", "/explore", "/-/profile/preferences"}
	titles  = []string{"Issues · GitLab", "Merge request · GitLab", "Projects · Dashboard", "Sign in · GitLab", "Pipelines · GitLab", "Explore · GitLab", "Preferences · User Settings"}
	refs    = []string{"", "https://www.google.com/search?q=gitlab+ci", "https://gitlab.com/dashboard/todos", "https://news.ycombinator.com/", ""}
	cats    = []string{"projects:issues:show", "projects:merge_requests:show", "dashboard:projects:index", "groups:epics:index", "ide:edit"}
	actions = []string{"click_button", "render", "submit_form", "click_link", "toggle"}
	plans   = []string{"free", "premium", "ultimate", "default"}
)

// param is one tracker-protocol parameter.
type param struct{ k, v string }

// Batch returns a POST body of n events and how many are valid and invalid.
// It writes JSON by hand: the load generator shares the machine with the
// pipeline it measures, so it should cost little.
func (b *Builder) Batch(n int) (body []byte, valid, invalid int) {
	now := time.Now().UnixMilli()
	b.LastIDs, b.LastValid = b.LastIDs[:0], b.LastValid[:0]
	out := b.buf.AvailableBuffer()[:0]
	out = append(out, `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[`...)
	for i := 0; i < n; i++ {
		bad := b.rng.Float64() < b.invalid
		var ps []param
		if b.rng.IntN(3) == 0 {
			ps = b.structEvent(bad)
		} else {
			ps = b.pageView(bad)
		}
		ps = append(ps, param{"dtm", strconv.FormatInt(now-int64(b.rng.IntN(2000)), 10)}, param{"stm", strconv.FormatInt(now, 10)})
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '{')
		for j, p := range ps {
			if j > 0 {
				out = append(out, ',')
			}
			out = appendJSONString(out, p.k)
			out = append(out, ':')
			out = appendJSONString(out, p.v)
			if p.k == "eid" {
				b.LastIDs = append(b.LastIDs, p.v)
			}
		}
		out = append(out, '}')
		b.LastValid = append(b.LastValid, !bad)
		if bad {
			invalid++
		} else {
			valid++
		}
	}
	out = append(out, "]}\n"...)
	return bytes.Clone(out), valid, invalid
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func (b *Builder) uuid() string {
	var u [16]byte
	for i := 0; i < 16; i += 8 {
		v := b.rng.Uint64()
		for j := 0; j < 8; j++ {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// gitlabContext is GitLab's standard context as JSON; broken makes
// project_id a string, which the schema forbids.
func (b *Builder) gitlabContext(source string, broken bool) string {
	project := strconv.Itoa(b.rng.IntN(50_000_000))
	if broken {
		project = `"project-` + strconv.Itoa(b.rng.IntN(1000)) + `"`
	}
	return `{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":"production","source":"` + source +
		`","plan":"` + plans[b.rng.IntN(len(plans))] + `","extra":{},"user_id":"` + strconv.Itoa(b.rng.IntN(20_000_000)) +
		`","project_id":` + project + `,"namespace_id":` + strconv.Itoa(b.rng.IntN(90_000_000)) +
		`,"is_gitlab_team_member":` + strconv.FormatBool(b.rng.IntN(20) == 0) +
		`,"context_generated_at":"` + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") +
		`","realm":"saas","instance_id":null,"host_name":"gitlab.com","correlation_id":"` + fmt.Sprintf("01J%016X", b.rng.Uint64()) + `"}}`
}

func contexts(items ...string) string {
	return `{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[` + strings.Join(items, ",") + `]}`
}

func (b *Builder) pageView(bad bool) []param {
	i := b.rng.IntN(len(paths))
	ps := []param{
		{"e", "pv"}, {"p", "web"}, {"tv", "js-4.10.1"}, {"tna", "gl"}, {"aid", "gitlab"}, {"eid", b.uuid()},
		{"url", "https://gitlab.com" + paths[i]}, {"page", titles[i]},
		{"duid", b.uuid()}, {"sid", b.uuid()}, {"vid", strconv.Itoa(1 + b.rng.IntN(40))},
		{"uid", strconv.Itoa(b.rng.IntN(20_000_000))}, {"lang", "en-US"}, {"cs", "UTF-8"},
		{"res", "1920x1080"}, {"vp", "1512x859"}, {"ds", "1497x6270"}, {"cd", "24"}, {"tz", "Europe/Berlin"},
	}
	if r := refs[b.rng.IntN(len(refs))]; r != "" {
		ps = append(ps, param{"refr", r})
	}
	web := `{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"` + b.uuid() + `"}}`
	return append(ps, param{"cx", base64.RawURLEncoding.EncodeToString([]byte(contexts(web, b.gitlabContext("gitlab-javascript", bad))))})
}

func (b *Builder) structEvent(bad bool) []param {
	ps := []param{
		{"e", "se"}, {"p", "srv"}, {"tv", "rb-0.8.0"}, {"tna", "gl"}, {"aid", "gitlab"}, {"eid", b.uuid()},
		{"se_ca", cats[b.rng.IntN(len(cats))]}, {"se_ac", actions[b.rng.IntN(len(actions))]},
		{"se_la", "issue_title"}, {"se_va", strconv.Itoa(b.rng.IntN(10))},
		{"uid", strconv.Itoa(b.rng.IntN(20_000_000))},
	}
	if bad && b.rng.IntN(2) == 0 {
		// An event whose schema no registry has: a schema_violations bad row.
		ps[0].v = "ue"
		return append(ps,
			param{"ue_pr", `{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.example.nowhere/missing/jsonschema/1-0-0","data":{"x":1}}}`},
			param{"co", contexts(b.gitlabContext("gitlab-rails", false))})
	}
	return append(ps, param{"co", contexts(b.gitlabContext("gitlab-rails", bad))})
}
