//go:build unix

package enrich

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time: on a shared, busy
// machine it measures the work done, where wall-clock time measures the
// wait for a core too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
