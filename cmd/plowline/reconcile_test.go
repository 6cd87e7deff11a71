package main

import (
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"-6h", now.Add(-6 * time.Hour)},
		{"now-90m", now.Add(-90 * time.Minute)},
		{"-1h30m", now.Add(-90 * time.Minute)},
		{"now+5m", now.Add(5 * time.Minute)},
		{"2026-11-26T08:00:00Z", time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)},
		{"2026-11-26T09:00:00+01:00", time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := parseWhen(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseWhen(%q) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "6h", "now-", "2026-11-26 08:00", "-6x"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", bad)
		}
	}
}

// FuzzParseWhen: any --from/--to value is a time or an error naming it.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"now", "-6h", "now-90m", "2026-11-26T08:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseWhen(s, time.Unix(0, 0))
	})
}
