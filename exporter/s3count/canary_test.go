package s3count

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTwoCanariesInOneObject: two canary events written in the same S3
// object are each found, each with the object's write time, so the canary
// measures each event's latency from its own send time.
func TestTwoCanariesInOneObject(t *testing.T) {
	api, _ := fakeS3(t)
	now := time.Now().UTC()
	hour := now.Format("2006/01/02/15/")
	w := now.Truncate(time.Minute).Add(-time.Minute)
	lines := []string{tsvLine(CanaryAppID, "canary-a", w.Add(time.Second), 1), tsvLine("gitlab", "e1", w.Add(2*time.Second), 2),
		tsvLine(CanaryAppID, "canary-b", w.Add(31*time.Second), 3)}
	put(t, api, "output/"+hour+"both.gz", gz(t, strings.Join(lines, "\n")+"\n"))
	s := newSource(t, api, filepath.Join(t.TempDir(), "s3.state"))
	refresh(t, s, now)
	a, okA := s.CanarySeen("canary-a")
	b, okB := s.CanarySeen("canary-b")
	if !okA || !okB {
		t.Fatalf("canaries found: a %v, b %v", okA, okB)
	}
	if !a.Equal(b) || a.IsZero() || a.Before(now.Add(-time.Minute)) || a.After(time.Now().Add(time.Second)) {
		t.Errorf("arrival a %s, b %s: want both the object's write time (about %s)", a, b, now)
	}
	if _, ok := s.CanarySeen("e1"); ok {
		t.Error("a business event was taken for a canary")
	}
}
