package s3count

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// state is what the source remembers: every object seen under each prefix
// (with its counts once read), which hour prefixes are closed, and canary
// events found. It is kept small — one compact struct per object — and
// saved in a line format that loads without holding the file in memory:
// 100,000 objects must fit the exporter's memory budget.
type state struct {
	// Window is the window length (seconds) the counts are bucketed by; a
	// state written with another window is discarded and objects re-read.
	Window   int64
	Prefixes map[string]*prefixState
	// Canary maps a canary event id to when its object was written. cmu
	// guards it alone, so the canary can look events up while a refresh
	// (holding the source's lock for minutes) reads objects.
	Canary map[string]time.Time
	cmu    sync.Mutex
	dirty  bool
}

type prefixState struct {
	// Closed hour prefixes (Unix seconds of the hour) are never listed again.
	Closed  map[int64]bool
	Objects map[string]*object
}

// object is one object's identity and counts. The first window's count is
// inline: most objects hold one window's records.
type object struct {
	// etag is the ETag: a plain MD5 ("<32 hex digits>", what single-part
	// uploads get) is kept as its 16 bytes; anything else in etagText.
	etag     [16]byte
	etagText string
	Size     int64
	// Modified is LastModified in Unix milliseconds.
	Modified int64
	// Hour is the hour prefix the object was listed under (Unix seconds).
	Hour int64
	// Read is true once the object's records were counted.
	Read bool
	// W, N: the first window (Unix seconds) and its records; More the rest.
	W, N int64
	More [][2]int64
}

// setETag stores an ETag compactly.
func (o *object) setETag(e string) {
	o.etag, o.etagText = [16]byte{}, ""
	if len(e) == 34 && e[0] == '"' && e[33] == '"' {
		if _, err := hex.Decode(o.etag[:], []byte(e[1:33])); err == nil && strings.ToLower(e[1:33]) == e[1:33] {
			return
		}
	}
	o.etagText = e
}

// ETag returns the ETag as S3 lists it.
func (o *object) ETag() string {
	if o.etagText != "" {
		return o.etagText
	}
	return `"` + hex.EncodeToString(o.etag[:]) + `"`
}

// sameETag compares without rebuilding the text form.
func (o *object) sameETag(e string) bool {
	if o.etagText != "" || len(e) != 34 {
		return o.etagText == e
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(e[1:33])); err != nil {
		return false
	}
	return b == o.etag && e[0] == '"' && e[33] == '"' && strings.ToLower(e[1:33]) == e[1:33]
}

func (o *object) modified() time.Time { return time.UnixMilli(o.Modified).UTC() }

// setWindows stores counted windows, the first inline.
func (o *object) setWindows(ws [][2]int64) {
	o.W, o.N, o.More = 0, 0, nil
	sort.Slice(ws, func(i, j int) bool { return ws[i][0] < ws[j][0] })
	if len(ws) > 0 {
		o.W, o.N = ws[0][0], ws[0][1]
	}
	if len(ws) > 1 {
		o.More = append([][2]int64(nil), ws[1:]...)
	}
}

// windows calls f for every counted window.
func (o *object) windows(f func(w, n int64)) {
	if o.N > 0 {
		f(o.W, o.N)
	}
	for _, wc := range o.More {
		f(wc[0], wc[1])
	}
}

func newState() *state {
	return &state{Prefixes: map[string]*prefixState{}, Canary: map[string]time.Time{}}
}

const stateMagic = "plowline-s3-state 1"

func loadState(path string) (*state, error) {
	st := newState()
	if path == "" {
		return st, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	defer f.Close()
	if err := st.read(f); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt (delete it to count every object afresh): %w", path, err)
	}
	return st, nil
}

// read parses the line format written by write.
func (st *state) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var ps *prefixState
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			if string(b) != stateMagic {
				return fmt.Errorf("line 1: %q is not %q", b, stateMagic)
			}
			continue
		}
		kind, rest, _ := bytes.Cut(b, []byte{'\t'})
		bad := func(why string) error { return fmt.Errorf("line %d (%s): %s", line, kind, why) }
		switch string(kind) {
		case "window":
			v, err := strconv.ParseInt(string(rest), 10, 64)
			if err != nil {
				return bad(err.Error())
			}
			st.Window = v
		case "prefix":
			p, err := unquoteKey(string(rest))
			if err != nil {
				return bad(err.Error())
			}
			ps = st.prefix(p)
		case "closed":
			v, err := strconv.ParseInt(string(rest), 10, 64)
			if err != nil || ps == nil {
				return bad("want a prefix line before and a Unix hour")
			}
			ps.Closed[v] = true
		case "o":
			if ps == nil {
				return bad("object before any prefix")
			}
			f := bytes.Split(rest, []byte{'\t'})
			if len(f) < 6 {
				return bad("want hour, size, modified, read, etag, key[, window:count...]")
			}
			var o object
			var err error
			nums := []*int64{&o.Hour, &o.Size, &o.Modified}
			for i, p := range nums {
				if *p, err = strconv.ParseInt(string(f[i]), 10, 64); err != nil {
					return bad(err.Error())
				}
			}
			o.Read = string(f[3]) == "1"
			o.setETag(string(f[4]))
			key, err := unquoteKey(string(f[5]))
			if err != nil {
				return bad(err.Error())
			}
			var ws [][2]int64
			for _, wc := range f[6:] {
				a, c, ok := bytes.Cut(wc, []byte{':'})
				w, err1 := strconv.ParseInt(string(a), 10, 64)
				n, err2 := strconv.ParseInt(string(c), 10, 64)
				if !ok || err1 != nil || err2 != nil {
					return bad(fmt.Sprintf("window count %q", wc))
				}
				ws = append(ws, [2]int64{w, n})
			}
			o.setWindows(ws)
			ps.Objects[key] = &o
		case "canary":
			id, ms, ok := bytes.Cut(rest, []byte{'\t'})
			v, err := strconv.ParseInt(string(ms), 10, 64)
			if !ok || err != nil {
				return bad("want id and Unix milliseconds")
			}
			cid, err := unquoteKey(string(id))
			if err != nil {
				return bad(err.Error())
			}
			st.Canary[cid] = time.UnixMilli(v).UTC()
		default:
			return bad("unknown record")
		}
	}
	if line == 0 {
		return errors.New("empty")
	}
	return sc.Err()
}

// write renders the state in its line format.
func (st *state) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	fmt.Fprintf(bw, "%s\nwindow\t%d\n", stateMagic, st.Window)
	prefixes := make([]string, 0, len(st.Prefixes))
	for p := range st.Prefixes {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	var num []byte
	for _, p := range prefixes {
		ps := st.Prefixes[p]
		fmt.Fprintf(bw, "prefix\t%s\n", quoteKey(p))
		for h := range ps.Closed {
			fmt.Fprintf(bw, "closed\t%d\n", h)
		}
		for k, o := range ps.Objects {
			num = append(num[:0], "o\t"...)
			num = strconv.AppendInt(num, o.Hour, 10)
			num = append(num, '\t')
			num = strconv.AppendInt(num, o.Size, 10)
			num = append(num, '\t')
			num = strconv.AppendInt(num, o.Modified, 10)
			num = append(num, '\t')
			if o.Read {
				num = append(num, '1')
			} else {
				num = append(num, '0')
			}
			num = append(num, '\t')
			num = append(num, o.ETag()...)
			num = append(num, '\t')
			num = append(num, quoteKey(k)...)
			o.windows(func(w, n int64) {
				num = append(num, '\t')
				num = strconv.AppendInt(num, w, 10)
				num = append(num, ':')
				num = strconv.AppendInt(num, n, 10)
			})
			num = append(num, '\n')
			bw.Write(num)
		}
	}
	st.cmu.Lock()
	for id, t := range st.Canary {
		fmt.Fprintf(bw, "canary\t%s\t%d\n", quoteKey(id), t.UnixMilli())
	}
	st.cmu.Unlock()
	return bw.Flush()
}

// quoteKey quotes keys holding separators (S3 keys may hold any character).
func quoteKey(k string) string {
	if strings.ContainsAny(k, "\t\n\r\"\\") || k == "" {
		return strconv.Quote(k)
	}
	return k
}

func unquoteKey(s string) (string, error) {
	if strings.HasPrefix(s, `"`) {
		return strconv.Unquote(s)
	}
	return s, nil
}

// setWindow adopts the refresh's window; counts bucketed by another window
// cannot be re-split, so they are forgotten and the objects re-read.
func (st *state) setWindow(w time.Duration) {
	sec := int64(w / time.Second)
	if st.Window == sec {
		return
	}
	if st.Window != 0 {
		for _, ps := range st.Prefixes {
			for _, o := range ps.Objects {
				o.Read = false
				o.setWindows(nil)
			}
		}
	}
	st.Window, st.dirty = sec, true
}

func (st *state) windowSeconds() int64 {
	if st.Window <= 0 {
		return 3600
	}
	return st.Window
}

func (st *state) prefix(p string) *prefixState {
	ps := st.Prefixes[p]
	if ps == nil {
		ps = &prefixState{Closed: map[int64]bool{}, Objects: map[string]*object{}}
		st.Prefixes[p] = ps
	}
	return ps
}

func (st *state) canarySeen(id string, t time.Time) {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	if _, ok := st.Canary[id]; !ok {
		st.Canary[id] = t
	}
}

func (st *state) canaryLookup(id string) (time.Time, bool) {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	t, ok := st.Canary[id]
	return t, ok
}

// prune forgets objects and closed hours before the first hour of the
// lookback, and canary events older than it.
func (st *state) prune(firstHour int64) {
	for _, ps := range st.Prefixes {
		for k, o := range ps.Objects {
			if o.Hour < firstHour {
				delete(ps.Objects, k)
				st.dirty = true
			}
		}
		for h := range ps.Closed {
			if h < firstHour {
				delete(ps.Closed, h)
				st.dirty = true
			}
		}
	}
	st.cmu.Lock()
	defer st.cmu.Unlock()
	for id, t := range st.Canary {
		if t.Unix() < firstHour {
			delete(st.Canary, id)
		}
	}
}

func (st *state) objectCount() int {
	n := 0
	for _, ps := range st.Prefixes {
		n += len(ps.Objects)
	}
	return n
}

// save writes the state through a temporary file and a rename, so a crash
// leaves the previous state, never a torn one.
func (st *state) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if err := st.write(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	st.dirty = false
	return nil
}
