package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/plowline/plowline/pipeline/collector"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/micro"
	"github.com/plowline/plowline/pipeline/pseudonymize"
)

func init() {
	register(&command{
		name:    "micro",
		summary: "a Snowplow Micro stand-in for tracking tests: collector → enricher → Micro's REST API, in memory",
		run:     runMicro,
	})
}

// microFlags adds the Micro API's flags to `plowline run`.
func microFlags(fs *flag.FlagSet) (on *bool, maxEvents *int, remoteClear *bool) {
	on = fs.Bool("micro", false, "also serve Snowplow Micro's REST API (/micro/good, /micro/bad, /micro/all, /micro/reset, /micro/iglu) on the collector's listener, from the enricher's output")
	maxEvents = fs.Int("micro.max-events", micro.DefaultMaxEvents, "the Micro API keeps at most this many good and this many bad `events`; the oldest are dropped (and counted)")
	remoteClear = fs.Bool("micro.allow-remote-clear", false, "serve the Micro API's events in clear to other machines too (default: loopback clients only; others use /pseudonymized/micro/...)")
	return on, maxEvents, remoteClear
}

func runMicro(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("micro", "micro [flags]", stderr)
	addr := fs.String("listen-address", "127.0.0.1:9090", "`host:port` of the collector and the Micro API (Micro's own port is 9090)")
	collectorConfig := fs.String("collector.config", "", "collector YAML configuration `file`, as for plowline collector (listen and sink keys are ignored)")
	enrichConfig := fs.String("enrich.config", "", "enricher YAML configuration `file`, as for plowline enrich (default: offline, embedded Iglu schemas)")
	allowlistFile := fs.String("pseudonymize.allowlist", "", "pseudonymization allowlist YAML `file` for /pseudonymized/micro/... (default: the built-in allowlist)")
	keyFile := fs.String("pseudonymize.key-file", "", "HMAC key `file` for /pseudonymized/micro/... (default: a random key for this process only, so pseudonyms match no other run)")
	maxEvents := fs.Int("max-events", micro.DefaultMaxEvents, "keep at most this many good and this many bad `events`; the oldest are dropped (and counted)")
	remoteClear := fs.Bool("allow-remote-clear", false, "serve events in clear to other machines too (default: loopback clients only; others use /pseudonymized/micro/...)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "how long SIGINT/SIGTERM may take to finish requests under way (`duration`)")
	logLevel := fs.String("log.level", "info", "log `level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: plowline micro [flags]

A stand-in for Snowplow Micro: a collector whose payloads the enricher
processes at once, and Micro's REST API over the results, on one port.
Nothing is written to disk: no streams, no S3, no warehouse. A test suite
written against Snowplow Micro points at it unchanged:

  GET  /micro/all                 {"total":…,"good":…,"bad":…}
  GET  /micro/good, POST filters  {"event_type","schema","contexts","limit"}
  GET  /micro/bad,  POST filters  {"vendor","version","limit"}
  GET  /micro/reset               forget every event
  GET  /micro/iglu/{vendor}/{name}/jsonschema/{version}

Events are shown as the enricher wrote them, in clear (to this machine
only). The same paths under /pseudonymized/micro/ show them as the
pseudonymizer would write them to S3. See docs/micro.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))}
	}
	usageErr := func(format string, a ...any) error { return &exitError{code: 2, err: fmt.Errorf(format, a...)} }
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("--log.level %q: want debug, info, warn or error", *logLevel)
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return usageErr("--listen-address %q: want host:port", *addr)
	}
	if *maxEvents < 1 {
		return usageErr("--max-events %d: want at least 1", *maxEvents)
	}
	if *shutdownTimeout <= 0 {
		return usageErr("--shutdown-timeout %s: want a positive duration", *shutdownTimeout)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := micro.ServerConfig{Address: *addr, Collector: collector.DefaultConfig(), Enrich: enrich.DefaultConfig(),
		MaxEvents: *maxEvents, AllowRemoteClear: *remoteClear, Log: log}
	var err error
	if *collectorConfig != "" {
		if cfg.Collector, err = collector.LoadConfig(*collectorConfig); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	cfg.Collector.Version = version
	if *enrichConfig != "" {
		if cfg.Enrich, err = enrich.LoadConfig(*enrichConfig); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	cfg.Enrich.Version = version
	allow := pseudonymize.DefaultAllowlist()
	if *allowlistFile != "" {
		if allow, err = pseudonymize.LoadAllowlist(*allowlistFile); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	var key []byte
	if *keyFile != "" {
		if key, err = pseudonymize.LoadKey(ctx, pseudonymize.KeySource{File: *keyFile}, nil); err != nil {
			return &exitError{code: 2, err: err}
		}
	} else {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("generating a random HMAC key: %w", err)
		}
	}
	if cfg.Pseudonymizer, err = pseudonymize.New(allow, key); err != nil {
		return err
	}

	s, err := micro.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `plowline micro: up (collector → enricher → Micro API, in memory; at most %[2]d good and %[2]d bad events)

  collector      %[1]s   (POST /com.snowplowanalytics.snowplow/tp2, GET /i)
  Micro API      %[1]s/micro/all, /micro/good, /micro/bad, /micro/reset, /micro/iglu/...
  pseudonymized  %[1]s/pseudonymized/micro/good, /pseudonymized/micro/bad

Ctrl-C stops it.
`, s.URL(), *maxEvents)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-s.Err():
		log.Error("stopping after the listener failed", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	return runErr
}
