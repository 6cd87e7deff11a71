//go:build !unix

package lake

import (
	"errors"
	"os"
)

// errLocked says another process holds the lock.
var errLocked = errors.New("locked by another process")

// Elsewhere the lock is not enforced.
func flock(*os.File) error { return nil }
