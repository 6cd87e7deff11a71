// Package statelock makes sure one process at a time writes a source's
// state file: two exporters saving the same file would overwrite each
// other's view of what was counted. The lock is an advisory flock on
// "<state file>.lock", released on Close or when the process exits, so a
// crash never leaves a stale lock behind.
package statelock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrHeld is returned when another process (or another source in this
// one) holds the lock.
var ErrHeld = errors.New("state file is in use by another running exporter")

// Lock is a held lock.
type Lock struct{ f *os.File }

// Acquire takes the lock for statePath without waiting.
func Acquire(statePath string) (*Lock, error) {
	path := statePath + ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w (give each exporter its own state_file; plowline reconcile only reads them)", statePath, err)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
