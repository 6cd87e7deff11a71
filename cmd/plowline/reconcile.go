package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/plowline/plowline/exporter"
)

func init() {
	register(&command{
		name:    "reconcile",
		summary: "judge the flow graph once over a time range and print which stage lost events (exit 1 if one did)",
		run:     runReconcile,
	})
}

// Exit statuses of plowline reconcile.
const (
	reconcileOK          = 0   // every settled window of every edge is within tolerance
	reconcileOut         = 1   // a settled window of an edge is out of tolerance
	reconcileUsage       = 2   // bad flags or configuration
	reconcileSourceDown  = 3   // nothing out of tolerance, but a source failed or an edge was never judged: the answer is incomplete
	reconcileInterrupted = 130 // stopped by SIGTERM or Ctrl-C before the answer was complete (as shells report a SIGINT)
)

// parseWhen reads an instant: RFC 3339, "now", or a duration relative to
// now ("-6h", "now-90m", "-1h30m").
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now, nil
	}
	rel := strings.TrimPrefix(s, "now")
	if strings.HasPrefix(rel, "-") || strings.HasPrefix(rel, "+") {
		d, err := time.ParseDuration(rel)
		if err == nil {
			return now.Add(d), nil
		}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-26T10:00:00Z), now, nor relative (-6h, now-90m)", s)
	}
	return t, nil
}

func runReconcile(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("reconcile", "reconcile --config FILE [--from T] [--to T] [--windows N] [--json]", stderr)
	configFile := fs.String("config", "", "exporter configuration `file` (the same file plowline exporter runs with)")
	fromFlag := fs.String("from", "", "start `T` of the range: RFC 3339, now, or relative like -6h (default: now minus the configured lookback)")
	toFlag := fs.String("to", "now", "end `T` of the range (exclusive): RFC 3339, now, or relative like -1h")
	asJSON := fs.Bool("json", false, "print JSON instead of the table (every window, unless --windows is given)")
	maxWindows := fs.Int("windows", 12, "show the `N` newest windows one by one and summarise older ones in at most 4 columns (0: every window)")
	logLevel := fs.String("log.level", "warn", "log `level` (to stderr): debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: plowline reconcile --config FILE [--from T] [--to T] [--windows N] [--json]

Reads every configured source once over the range (read-only: state files of
a running exporter are read, never written), judges every edge in every
settled window, and prints first the root cause — the upstream-most edge out
of tolerance, how many events it lost (or duplicated) since its run of
out-of-tolerance windows began, and since when ("clamped" when the range
starts inside that run: widen --from) — then the other edges out of
tolerance, edges and nodes × windows (the --windows newest one by one, older
ones summarised), and the sources' health.

Exit status:
  0  every settled window of every edge is within tolerance
  1  a settled window of an edge is out of tolerance
  2  bad flags or configuration
  3  nothing out of tolerance, but a source failed or an edge could not be
     judged in any settled window (its counts are unknown)
  130  interrupted (SIGTERM, Ctrl-C) while reading the sources

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: reconcileUsage, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *maxWindows < 0 {
		return &exitError{code: reconcileUsage, err: fmt.Errorf("--windows %d: want 0 (every window) or more", *maxWindows)}
	}
	log, err := exporterLogger(*logLevel, stderr)
	if err != nil {
		return err
	}
	cfg, err := exporterLoadConfig(*configFile)
	if err != nil {
		return err
	}
	exporterGC()
	now := time.Now()
	to, err := parseWhen(*toFlag, now)
	if err != nil {
		return &exitError{code: reconcileUsage, err: fmt.Errorf("--to: %w", err)}
	}
	from := to.Add(-cfg.Lookback)
	if *fromFlag != "" {
		if from, err = parseWhen(*fromFlag, now); err != nil {
			return &exitError{code: reconcileUsage, err: fmt.Errorf("--from: %w", err)}
		}
	}
	if !to.After(from) {
		return &exitError{code: reconcileUsage, err: fmt.Errorf("--from %s is not before --to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))}
	}
	if n := to.Sub(from) / cfg.Window; n > 10000 {
		return &exitError{code: reconcileUsage, err: fmt.Errorf("--from/--to span %d windows of %s; at most 10000", n, cfg.Window)}
	}
	exp, err := exporter.NewWithOptions(cfg, nil, log, exporter.Options{ReadOnly: true, Version: version})
	if err != nil {
		return &exitError{code: reconcileUsage, err: err}
	}
	srcErr := exp.RefreshOnce(ctx, from, to)
	if ctx.Err() != nil {
		// SIGTERM or Ctrl-C: stop now. Sources are not closed: a source
		// abandoned in a blocking call (a database driver hanging in open)
		// could hold Close up, and the process is exiting anyway.
		return &exitError{code: reconcileInterrupted, err: fmt.Errorf("interrupted before every source was read: %w", context.Cause(ctx))}
	}
	defer exp.Close()
	if srcErr != nil {
		log.Warn("some sources failed; their counts are unknown", "err", srcErr)
	}
	r := exp.ReportRange(from, to)
	shown := *maxWindows
	if *asJSON && !flagGiven(fs, "windows") {
		shown = 0 // scripts get every window unless they ask otherwise
	}
	t := exp.Table(r, shown)
	if *asJSON {
		err = t.WriteJSON(stdout)
	} else {
		err = t.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	switch {
	case r.AnyOut():
		return &exitError{code: reconcileOut}
	case srcErr != nil || len(t.Unjudged) > 0:
		return &exitError{code: reconcileSourceDown}
	}
	return nil
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	return given
}
