//go:build unix

package lake

import (
	"errors"
	"os"
	"syscall"
)

// errLocked says another process holds the lock.
var errLocked = errors.New("locked by another process")

func flock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
