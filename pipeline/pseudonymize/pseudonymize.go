// Package pseudonymize replaces every value of an enriched event or bad row
// that its allowlist does not name with the lowercase hex HMAC-SHA256 of the
// value under a secret key: deterministic (identifiers stay joinable) and
// irreversible without the key. It runs as the Firehose data-transformation
// Lambda on every delivery stream and as `plowline pseudonymize`.
package pseudonymize

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"runtime"
	"strconv"
	"sync/atomic"

	"github.com/plowline/plowline/pipeline/event"
)

// Pseudonymizer transforms lines with one allowlist and key. It is safe for
// concurrent use: each call borrows a worker holding its own HMAC state,
// scratch buffers and caches. Idle workers are kept (up to GOMAXPROCS) so
// their caches survive garbage collections, unlike a sync.Pool's.
type Pseudonymizer struct {
	allow   *Allowlist
	idle    chan *worker
	newWork func() *worker
	// trace, when set (tests and benchmarks only), sees every value that is
	// pseudonymized, in order.
	trace func([]byte)
	// noMemo turns the pseudonym cache off (benchmarks compare both).
	noMemo bool
}

// New returns a pseudonymizer keeping what a allows and hashing everything
// else under key. The key is copied; an empty key is an error.
func New(a *Allowlist, key []byte) (*Pseudonymizer, error) {
	if a == nil {
		return nil, errors.New("pseudonymize: no allowlist")
	}
	if len(key) == 0 {
		return nil, errors.New("pseudonymize: empty HMAC key")
	}
	k := append([]byte(nil), key...)
	procs := runtime.GOMAXPROCS(0)
	p := &Pseudonymizer{allow: a, idle: make(chan *worker, procs)}
	var created atomic.Int64
	p.newWork = func() *worker {
		w := &worker{p: p, mac: hmac.New(sha256.New, k)}
		// Only workers that can be kept idle get a pseudonym cache; the
		// extra ones of a burst of callers would throw theirs away.
		if created.Add(1) <= int64(procs) {
			w.memo = newMemo()
		}
		return w
	}
	return p, nil
}

func (p *Pseudonymizer) get() *worker {
	select {
	case w := <-p.idle:
		return w
	default:
		return p.newWork()
	}
}

// put keeps the long-lived workers (those with a cache: at most as many as
// the idle channel holds, so they always fit) and lets a burst's extra
// workers go.
func (p *Pseudonymizer) put(w *worker) {
	if w.memo == nil {
		return
	}
	select {
	case p.idle <- w:
	default:
	}
}

// String hides the key from %v and friends.
func (p *Pseudonymizer) String() string { return "pseudonymize.Pseudonymizer{key: redacted}" }

// GoString hides the key from %#v.
func (p *Pseudonymizer) GoString() string { return p.String() }

// Allowlist returns the allowlist the pseudonymizer applies.
func (p *Pseudonymizer) Allowlist() *Allowlist { return p.allow }

// Transform appends the pseudonymized form of line to dst (without a
// trailing newline) and returns the extended slice. A line starting with
// '{' is a bad row (self-describing JSON); anything else an enriched TSV
// event. One trailing "\n" or "\r\n" on line is ignored. On error dst is
// returned unchanged (truncated back to its original length) and the error
// says what is wrong without quoting any value of the line.
func (p *Pseudonymizer) Transform(dst, line []byte) ([]byte, error) {
	w := p.get()
	defer p.put(w)
	n := len(dst)
	line = trimNewline(line)
	var err error
	if len(line) > 0 && line[0] == '{' {
		dst, err = w.badRow(dst, line)
	} else {
		dst, err = w.tsv(dst, line)
	}
	if err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// Pseudonym returns the pseudonym of one value: the lowercase hex
// HMAC-SHA256 under the pseudonymizer's key ("" stays "").
func (p *Pseudonymizer) Pseudonym(value string) string {
	if value == "" {
		return ""
	}
	w := p.get()
	defer p.put(w)
	return string(w.hmacHex(nil, []byte(value)))
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// The roots of the documents walked: each is self-describing, with the
// schemas its position allows.
var (
	badRowRoot          = &node{sd: posBadRow}
	contextsRoot        = &node{sd: posContexts}
	derivedContextsRoot = &node{sd: posDerivedContexts}
	unstructRoot        = &node{sd: posUnstruct}
)

type schemaEntry struct {
	n     *node
	valid bool
}

// maxCachedSchemas bounds each worker's schema cache: schema strings come
// from untrusted input.
const maxCachedSchemas = 4096

type worker struct {
	p                           *Pseudonymizer
	mac                         hash.Hash
	sum                         [sha256.Size]byte
	scratch, kscratch, sscratch []byte
	// keys holds the keys of the objects being checked for repeats.
	keys [][]byte
	// inBadRow: the document is a bad row (its structural keys are kept).
	inBadRow bool
	cache    [numPositions]map[string]schemaEntry
	memo     *memo
}

func (w *worker) hmacHex(dst, v []byte) []byte {
	if w.p.trace != nil {
		w.p.trace(v)
	}
	if w.memo == nil || w.p.noMemo || len(v) > memoMaxValue {
		return w.compute(dst, v)
	}
	return w.memo.lookup(dst, v, w.compute)
}

func (w *worker) compute(dst, v []byte) []byte {
	w.mac.Reset()
	w.mac.Write(v)
	return hex.AppendEncode(dst, w.mac.Sum(w.sum[:0]))
}

func (w *worker) schema(s []byte, pos position) (*node, bool) {
	c := w.cache[pos]
	if e, ok := c[string(s)]; ok {
		return e.n, e.valid
	}
	n, valid := w.p.allow.resolve(string(s), pos)
	if c == nil {
		c = map[string]schemaEntry{}
		w.cache[pos] = c
	}
	if len(c) < maxCachedSchemas {
		c[string(s)] = schemaEntry{n, valid}
	}
	return n, valid
}

// tsv pseudonymizes an enriched event field by field.
func (w *worker) tsv(dst, line []byte) ([]byte, error) {
	a := w.p.allow
	start := 0
	for i := 0; i < event.NumFields; i++ {
		// Most fields are empty or short: look at a few bytes before
		// calling the vectorized search meant for the long JSON fields.
		end := start
		for lim := min(start+16, len(line)); end < lim && line[end] != '\t'; end++ {
		}
		if end == start+16 {
			if j := bytes.IndexByte(line[end:], '\t'); j >= 0 {
				end += j
			} else {
				end = len(line)
			}
		}
		if end == len(line) && i != event.NumFields-1 {
			return dst, &event.FieldError{Field: -1, Offset: -1,
				Reason: fmt.Sprintf("line has %d fields, want %d (not an enriched TSV event)", i+1, event.NumFields)}
		}
		if end < len(line) && i == event.NumFields-1 {
			return dst, &event.FieldError{Field: -1, Offset: -1,
				Reason: fmt.Sprintf("line has more than %d fields (a tab at byte %d)", event.NumFields, end)}
		}
		if i > 0 {
			dst = append(dst, '\t')
		}
		v := line[start:end]
		if len(v) > 0 {
			f := event.Field(i)
			switch kind := f.Kind(); kind {
			case event.KindContexts, event.KindUnstruct:
				root := unstructRoot
				if f == event.Contexts {
					root = contextsRoot
				} else if f == event.DerivedContexts {
					root = derivedContextsRoot
				}
				var err error
				dst, err = w.document(dst, v, root)
				if err != nil {
					return dst, &event.FieldError{Field: f, Offset: start, Reason: err.Error()}
				}
			case event.KindInt, event.KindFloat, event.KindBool, event.KindTimestamp:
				// A typed column never holds a pseudonym (readers parse
				// it as a number, boolean or time): kept when allowlisted
				// and well-typed, else cleared.
				if a.fields[i] && validTyped(kind, v) && (a.fieldCheck[i] == nil || a.fieldCheck[i](unsafeString(v))) {
					dst = append(dst, v...)
				}
			default:
				if a.fields[i] && (a.fieldCheck[i] == nil || a.fieldCheck[i](unsafeString(v))) {
					dst = append(dst, v...)
				} else {
					dst = w.hmacHex(dst, v)
				}
			}
		}
		start = end + 1
	}
	return dst, nil
}

// badRow pseudonymizes a bad row: a self-describing JSON document.
func (w *worker) badRow(dst, line []byte) ([]byte, error) {
	w.inBadRow = true
	defer func() { w.inBadRow = false }()
	return w.document(dst, line, badRowRoot)
}

// validTyped reports whether v is what the analytics SDKs parse for a
// typed column: a decimal integer, a finite decimal number, 0/1, or an
// enriched timestamp.
func validTyped(kind event.Kind, v []byte) bool {
	switch kind {
	case event.KindInt:
		_, err := strconv.ParseInt(unsafeString(v), 10, 64)
		return err == nil
	case event.KindFloat:
		if !isDecimal(v) {
			return false
		}
		x, err := strconv.ParseFloat(unsafeString(v), 64)
		return err == nil && !math.IsInf(x, 0)
	case event.KindBool:
		return len(v) == 1 && (v[0] == '0' || v[0] == '1')
	case event.KindTimestamp:
		return event.ValidTimestamp(unsafeString(v))
	}
	return false
}

// isDecimal: -?digits(.digits)?([eE][+-]?digits)? — a decimal number
// with leading zeros allowed (no hex, Inf, NaN or underscores, which
// strconv.ParseFloat would also take).
func isDecimal(v []byte) bool {
	i := 0
	digits := func() bool {
		d := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		return i > d
	}
	if i < len(v) && v[i] == '-' {
		i++
	}
	if !digits() {
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(v)
}

// document walks one self-describing JSON document (a TSV JSON field or a
// bad row) from root and rejects anything after it.
func (w *worker) document(dst, src []byte, root *node) ([]byte, error) {
	i := skipWS(src, 0)
	var err error
	dst, i, err = w.value(dst, src, i, root, 0)
	if err != nil {
		return dst, err
	}
	if i = skipWS(src, i); i != len(src) {
		return dst, fmt.Errorf("JSON: unexpected data after the document at byte %d", i)
	}
	return dst, nil
}
