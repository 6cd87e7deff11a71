package s3count

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// state is what the source remembers: every object seen under each prefix
// (with its counts once read), which hour prefixes are closed, and canary
// events found.
type state struct {
	// Window is the window length (seconds) the counts are bucketed by; a
	// state written with another window is discarded and objects re-read.
	Window   int64                   `json:"window"`
	Prefixes map[string]*prefixState `json:"prefixes"`
	Canary   map[string]time.Time    `json:"canary,omitempty"`
	dirty    bool
}

type prefixState struct {
	// Closed hour prefixes (Unix seconds of the hour) are never listed again.
	Closed  map[int64]bool     `json:"closed"`
	Objects map[string]*object `json:"objects"`
}

type object struct {
	ETag     string    `json:"e"`
	Size     int64     `json:"s"`
	Modified time.Time `json:"m"`
	// Hour is the hour prefix the object was listed under (Unix seconds).
	Hour int64 `json:"h"`
	// Read is true once the object's records were counted.
	Read    bool       `json:"r,omitempty"`
	Windows [][2]int64 `json:"w,omitempty"`
}

func newState() *state {
	return &state{Prefixes: map[string]*prefixState{}, Canary: map[string]time.Time{}}
}

func loadState(path string) (*state, error) {
	st := newState()
	if path == "" {
		return st, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt (delete it to count every object afresh): %w", path, err)
	}
	if st.Prefixes == nil {
		st.Prefixes = map[string]*prefixState{}
	}
	if st.Canary == nil {
		st.Canary = map[string]time.Time{}
	}
	for _, ps := range st.Prefixes {
		if ps.Closed == nil {
			ps.Closed = map[int64]bool{}
		}
		if ps.Objects == nil {
			ps.Objects = map[string]*object{}
		}
	}
	return st, nil
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
				o.Read, o.Windows = false, nil
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
	if _, ok := st.Canary[id]; !ok {
		st.Canary[id] = t
	}
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
	enc := json.NewEncoder(tmp)
	if err := enc.Encode(st); err != nil {
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
