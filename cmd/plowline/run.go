package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/pipeline/collector"
	"github.com/plowline/plowline/pipeline/demo"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/fault"
	"github.com/plowline/plowline/pipeline/lake"
	"github.com/plowline/plowline/pipeline/local"
	"github.com/plowline/plowline/pipeline/micro"
	"github.com/plowline/plowline/pipeline/pseudonymize"
)

func init() {
	register(&command{
		name:    "run",
		summary: "run the whole pipeline on this machine: collector → enricher → pseudonymizer → S3 → warehouse",
		run:     runRun,
	})
}

// runExtension is something `plowline run` starts once the pipeline is up,
// on the same web listener and metrics registry (the exporter registers one
// from its own file). stop is called on shutdown, after the pipeline drained.
type runExtension struct {
	name  string
	start func(ctx context.Context, info local.Info, mux *http.ServeMux, reg *prometheus.Registry, log *slog.Logger) (stop func(context.Context) error, err error)
}

var runExtensions []runExtension

// registerRunExtension adds an extension; call it from init.
func registerRunExtension(e runExtension) { runExtensions = append(runExtensions, e) }

// faultEnv holds fault rules like --fault (";"-separated) for `plowline run`
// only; `plowline lambda` never reads it, and the fault package refuses any
// rule inside an AWS Lambda environment.
const faultEnv = "PLOWLINE_FAULT"

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, "; ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// byteSize parses 5MiB, 512KiB, 1048576 (bytes).
func byteSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size such as 5MiB, 512KiB or 1048576")
	}
	return n * mult, nil
}

func runRun(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	def := local.DefaultConfig()
	fs := newFlagSet("run", "run [flags]", stderr)
	collectorAddr := fs.String("collector.listen-address", def.CollectorAddress, "`host:port` the collector serves trackers on (0.0.0.0:8080 to accept other machines)")
	webAddr := fs.String("web.listen-address", def.WebAddress, "`host:port` serving /metrics for every stage")
	dataDir := fs.String("data-dir", def.DataDir, "`directory` holding the object store (s3/, one file per object), the warehouse (warehouse.db) and the HMAC key (hmac.key); reuse it to resume")
	collectorConfig := fs.String("collector.config", "", "collector YAML configuration `file`, as for plowline collector (listen and sink keys are ignored)")
	enrichConfig := fs.String("enrich.config", "", "enricher YAML configuration `file`, as for plowline enrich (default: offline, embedded Iglu schemas)")
	allowlistFile := fs.String("pseudonymize.allowlist", "", "pseudonymization allowlist YAML `file` (default: the built-in allowlist)")
	bufSize := fs.String("lake.buffer-size", "5MiB", "batch writers flush a buffer when it holds this much (`size`, uncompressed; Firehose: 1MiB..128MiB)")
	bufInterval := fs.Duration("lake.buffer-interval", def.BufferInterval, "batch writers flush a buffer this long after its first record (`duration`; Firehose: 60s..900s)")
	capacity := fs.Int("stream.capacity", def.StreamCapacity, "capacity of each in-memory stream in `records`; when raw-good is full the collector answers 503")
	capacityBytes := fs.String("stream.capacity-bytes", sizeString(def.StreamCapacityBytes), "capacity of each in-memory stream in bytes of record data (`size`); with --stream.capacity, whichever is reached first; this bounds memory")
	memLimit := fs.String("memory-limit", sizeString(local.DefaultMemoryLimit), "soft memory limit handed to the Go runtime (`size`, as GOMEMLIMIT; 0 turns it off): the garbage collector works harder near it. A backstop only: what bounds memory is the limits in docs/run.md. $GOMEMLIMIT wins unless this flag is given")
	allowNewKey := fs.Bool("allow-new-key", false, "start even if the HMAC key file is missing or empty while the warehouse has rows (every pseudonym changes)")
	allowEmptyStore := fs.Bool("allow-empty-object-store", false, "start even if the object store is missing or empty while the warehouse has rows")
	demoOn := fs.Bool("demo", false, "also send a steady stream of realistic demo events (some invalid) to the collector")
	demoRate := fs.Float64("demo.rate", 20, "demo `events` per second")
	demoInvalid := fs.Float64("demo.invalid-fraction", 0.02, "`fraction` of demo events built to become bad rows")
	var faults multiFlag
	fs.Var(&faults, "fault", "inject a fault for a game day (repeatable; also $"+faultEnv+"): `RULE` = "+fault.Syntax+"; points: "+strings.Join(fault.PointNames(), ", "))
	faultSeed := fs.Uint64("fault.seed", 1, "`seed` choosing which records a fault hits (same seed, same records)")
	microOn, microMax, microRemote := microFlags(fs)
	shutdownTimeout := fs.Duration("shutdown-timeout", time.Minute, "how long SIGINT/SIGTERM may take to drain every buffer into the warehouse (`duration`)")
	logLevel := fs.String("log.level", "info", "log `level`: debug, info, warn or error")
	configFile := fs.String("config", "", "YAML `file` with the same settings as these flags (keys below); flags given explicitly win")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: plowline run [flags]

Runs GitLab's Snowplow pipeline on this machine with no cloud account:

  trackers → collector (HTTP) → snowplow-raw-good / -raw-bad (in memory)
           → enricher → snowplow-enriched-good / -enriched-bad (in memory)
           → pseudonymizer (HMAC-SHA256, allowlist) on three delivery streams
           → batch writers → S3 (embedded, on disk) output/ enriched-bad/ raw-bad/
             (records the pseudonymizer rejects: processing-failed/, not loaded)
           → loader → warehouse (embedded SQLite): gitlab_events, gitlab_bad_events

Query the warehouse with 'plowline query'. SIGINT or SIGTERM drains every
stage in order, so every event the collector acknowledged is in the
warehouse when run exits; restarting on the same --data-dir loads nothing
twice. A kill -9 loses what was only in memory (see docs/run.md).

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nConfiguration file (--config); every key is optional:\n\n%s", local.FileConfigReference)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))}
	}
	usageErr := func(format string, a ...any) error { return &exitError{code: 2, err: fmt.Errorf(format, a...)} }
	if *configFile != "" {
		fc, err := local.LoadFileConfig(*configFile)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		str := func(name string, dst *string, v string) {
			if !set[name] && v != "" {
				*dst = v
			}
		}
		str("data-dir", dataDir, fc.DataDir)
		str("collector.listen-address", collectorAddr, fc.CollectorListenAddress)
		str("web.listen-address", webAddr, fc.WebListenAddress)
		str("collector.config", collectorConfig, fc.CollectorConfig)
		str("enrich.config", enrichConfig, fc.EnrichConfig)
		str("pseudonymize.allowlist", allowlistFile, fc.Allowlist)
		str("lake.buffer-size", bufSize, fc.Lake.BufferSize)
		if !set["lake.buffer-interval"] && fc.Lake.BufferInterval != 0 {
			*bufInterval = fc.Lake.BufferInterval
		}
		if !set["stream.capacity"] && fc.StreamCapacity != 0 {
			*capacity = fc.StreamCapacity
		}
		str("stream.capacity-bytes", capacityBytes, fc.StreamCapacityBytes)
		str("memory-limit", memLimit, fc.MemoryLimit)
		if !set["shutdown-timeout"] && fc.ShutdownTimeout != 0 {
			*shutdownTimeout = fc.ShutdownTimeout
		}
		if !set["demo"] && fc.Demo.Enabled != nil {
			*demoOn = *fc.Demo.Enabled
		}
		if !set["demo.rate"] && fc.Demo.Rate != 0 {
			*demoRate = fc.Demo.Rate
		}
		if !set["demo.invalid-fraction"] && fc.Demo.InvalidFraction != nil {
			*demoInvalid = *fc.Demo.InvalidFraction
		}
		if !set["fault"] {
			faults = append(faults, fc.Faults...)
		}
		if !set["fault.seed"] && fc.FaultSeed != nil {
			*faultSeed = *fc.FaultSeed
		}
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("--log.level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := def
	cfg.Log = log
	cfg.DataDir = *dataDir
	cfg.CollectorAddress = *collectorAddr
	cfg.WebAddress = *webAddr
	for _, a := range []struct{ flag, v string }{{"--collector.listen-address", *collectorAddr}, {"--web.listen-address", *webAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return usageErr("%s %q: want host:port", a.flag, a.v)
		}
	}
	if *dataDir == "" {
		return usageErr("--data-dir is empty")
	}
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
	if *allowlistFile != "" {
		if cfg.Allowlist, err = pseudonymize.LoadAllowlist(*allowlistFile); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	if cfg.BufferBytes, err = byteSize(*bufSize); err != nil || cfg.BufferBytes > lake.MaxBufferBytes {
		return usageErr("--lake.buffer-size %q: want a size from 1B to 128MiB, such as 5MiB", *bufSize)
	}
	if *bufInterval <= 0 || *bufInterval > lake.MaxBufferInterval {
		return usageErr("--lake.buffer-interval %s: want a duration in (0s, 900s]", *bufInterval)
	}
	cfg.BufferInterval = *bufInterval
	cfg.CountWindow = runCountWindow()
	if *capacity < 1 {
		return usageErr("--stream.capacity %d: want at least 1", *capacity)
	}
	cfg.StreamCapacity = *capacity
	cfg.AllowNewKey, cfg.AllowEmptyObjectStore = *allowNewKey, *allowEmptyStore
	if cfg.StreamCapacityBytes, err = byteSize(*capacityBytes); err != nil {
		return usageErr("--stream.capacity-bytes %q: %v", *capacityBytes, err)
	}
	if err := applyMemoryLimit(*memLimit, setFlags(fs)["memory-limit"]); err != nil {
		return usageErr("--memory-limit %q: %v", *memLimit, err)
	}
	if *shutdownTimeout <= 0 {
		return usageErr("--shutdown-timeout %s: want a positive duration", *shutdownTimeout)
	}
	if env := os.Getenv(faultEnv); env != "" {
		faults = append(faults, env)
	}
	if cfg.Faults, err = fault.ParseRules(faults); err != nil {
		return usageErr("--fault: %v", err)
	}
	cfg.FaultSeed = *faultSeed
	if *microOn {
		if *microMax < 1 {
			return usageErr("--micro.max-events %d: want at least 1", *microMax)
		}
		cfg.Micro, cfg.MicroAllowRemoteClear = micro.NewStore(*microMax), *microRemote
	}
	demoCfg := demo.DefaultConfig("")
	demoCfg.Rate, demoCfg.InvalidFraction, demoCfg.Log = *demoRate, *demoInvalid, log.With("component", "demo")
	demoCfg.BatchSize = max(1, min(10, int(*demoRate)))
	if *demoOn {
		demoCfg.CollectorURL = "http://placeholder"
		if err := demoCfg.Validate(); err != nil {
			return usageErr("--demo.rate/--demo.invalid-fraction: %v", err)
		}
	}

	p, err := local.Start(cfg)
	if err != nil {
		return err
	}
	info := p.Info()

	var stops []func(context.Context) error
	var extNames []string
	for _, e := range runExtensions {
		stop, err := e.start(ctx, info, p.Mux(), p.Registry(), log.With("component", e.name))
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
			p.Shutdown(sctx)
			cancel()
			return fmt.Errorf("starting %s: %w", e.name, err)
		}
		stops = append(stops, stop)
		extNames = append(extNames, e.name)
	}

	printWelcome(stdout, info, cfg, extNames)

	demoCtx, stopDemo := context.WithCancel(ctx)
	demoDone := make(chan struct{})
	var demoStats demo.Stats
	if *demoOn {
		demoCfg.CollectorURL = info.CollectorURL
		go func() { defer close(demoDone); demo.Run(demoCtx, demoCfg, &demoStats) }()
	} else {
		close(demoDone)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: draining every stage into the warehouse (a second signal exits at once, losing what is buffered)")
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-again
			fmt.Fprintln(stderr, "plowline run: second signal, exiting without draining; buffered events are lost")
			os.Exit(130)
		}()
	case runErr = <-p.Err():
		log.Error("stopping after a listener failed", "err", runErr)
	}
	stopDemo()
	<-demoDone
	if *demoOn {
		log.Info("demo sent", "requests", demoStats.Requests.Load(), "valid_events", demoStats.Valid.Load(),
			"invalid_events", demoStats.Invalid.Load(), "events_in_failed_requests", demoStats.Rejected.Load())
	}
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	// Extensions read the pipeline's stores: stop them before those close.
	for i, stop := range stops {
		if serr := stop(sctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("stopping %s: %w", extNames[i], serr))
		}
	}
	err = errors.Join(err, p.Shutdown(sctx))
	if err = errors.Join(runErr, err); err != nil {
		return err
	}
	log.Info("stopped; every acknowledged event is in the warehouse", "data_dir", info.DataDir)
	return nil
}

func printWelcome(w io.Writer, info local.Info, cfg local.Config, extensions []string) {
	q := "plowline query --data-dir " + shellQuote(info.DataDir)
	fmt.Fprintf(w, `plowline run: the pipeline is up (collector → enricher → pseudonymizer → S3 → warehouse)

  collector       %[1]s   (POST /com.snowplowanalytics.snowplow/tp2, GET /i)
  metrics         %[2]s
  data directory  %[3]s
  object store    %[4]s bucket %[5]s (embedded S3, path-style; any credentials)
  warehouse       %[6]s (tables gitlab_events, gitlab_bad_events)
  batch buffers   %[7]s or %[8]s, whichever comes first
`, info.CollectorURL, info.MetricsURL, info.DataDir, info.S3Endpoint, info.Bucket, info.WarehousePath, sizeString(cfg.BufferBytes), cfg.BufferInterval)
	if len(extensions) > 0 {
		fmt.Fprintf(w, "  also running    %s (on %s)\n", strings.Join(extensions, ", "), info.WebAddress)
	}
	if info.MicroURL != "" {
		fmt.Fprintf(w, "  Micro API       %s/good, /bad, /all, /reset (pseudonymized: %s)\n", info.MicroURL,
			strings.TrimSuffix(info.CollectorURL+micro.PseudonymizedPrefix, "/"))
	}
	for _, r := range cfg.Faults {
		fmt.Fprintf(w, "  FAULT INJECTED  %s (seed %d)\n", r, cfg.FaultSeed)
	}
	fmt.Fprintf(w, `
Send an event:
  curl '%[1]s/i?e=pv&p=web&tv=curl-1.0.0&aid=quickstart&url=https%%3A%%2F%%2Fexample.com%%2Fhello&uid=alice'

Point a tracker at it:
  browser: newTracker('sp', '%[2]s', { appId: 'my-app', protocol: 'http' })
  node:    newTracker({ namespace: 'sp', appId: 'my-app' }, { endpoint: '%[1]s' })
  other trackers: collector URL %[1]s

See it in the warehouse (after the buffer interval):
  %[3]s "SELECT event_id, app_id, event, user_id, collector_tstamp FROM gitlab_events ORDER BY collector_tstamp DESC LIMIT 10"
  %[3]s "SELECT jsontext FROM gitlab_bad_events LIMIT 5"

Ctrl-C stops it after draining every buffer into the warehouse.
`, info.CollectorURL, strings.TrimPrefix(info.CollectorURL, "http://"), q)
}

// sizeString prints n bytes as byteSize reads them.
func sizeString(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// setFlags names the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// applyMemoryLimit hands --memory-limit to the Go runtime as its soft
// limit. A GOMEMLIMIT in the environment (already applied by the runtime)
// wins unless the flag was given explicitly; "0" leaves the runtime
// without a limit.
func applyMemoryLimit(v string, explicit bool) error {
	n, err := byteSize(v)
	if err != nil {
		if v != "0" {
			return err
		}
		n = 0
	}
	if os.Getenv("GOMEMLIMIT") != "" && !explicit {
		return nil
	}
	if n <= 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return nil
	}
	debug.SetMemoryLimit(n)
	return nil
}
