package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/plowline/plowline/exporter"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/pipeline/local"
)

func init() {
	register(&command{
		name:    "exporter",
		summary: "reconcile event counts across every pipeline stage and serve them to Prometheus",
		run:     runExporter,
	})
	registerRunExtension(runExtension{name: "exporter", start: startRunExporter})
}

// Environment variables tuning the exporter inside `plowline run` (which
// owns the flags): window, source refresh interval, latency budget, and
// whether to send canary events into the local pipeline.
const (
	envRunWindow   = "PLOWLINE_EXPORTER_WINDOW"   // default 1m
	envRunInterval = "PLOWLINE_EXPORTER_INTERVAL" // default 5s
	envRunBudget   = "PLOWLINE_EXPORTER_BUDGET"   // default 2 × --lake.buffer-interval + 5s (config.LocalBudget)
	envRunCanary   = "PLOWLINE_EXPORTER_CANARY"   // a duration (or "1" for 1m): send a canary event that often
)

// runCountWindow is the window plowline run's event-time counts use: the
// exporter's ($PLOWLINE_EXPORTER_WINDOW, default 1m). A bad value is
// reported when the exporter starts.
func runCountWindow() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(envRunWindow)); err == nil && d > 0 {
		return d
	}
	return time.Minute
}

// startRunExporter runs the exporter over plowline run's own pipeline:
// config.Local for its parts, metrics on run's registry, the on-call page
// at / and /reconcile.json on run's web listener.
func startRunExporter(_ context.Context, info local.Info, mux *http.ServeMux, reg *prometheus.Registry, log *slog.Logger) (func(context.Context) error, error) {
	o := config.LocalOptions{DataDir: info.DataDir, MetricsURL: info.MetricsURL, WindowsURL: info.WindowsURL, S3Endpoint: info.S3Endpoint,
		Bucket: info.Bucket, WarehousePath: info.WarehousePath, BufferInterval: info.BufferInterval}
	for _, d := range []struct {
		env string
		to  *time.Duration
	}{{envRunWindow, &o.Window}, {envRunInterval, &o.Interval}, {envRunBudget, &o.Budget}} {
		if v := os.Getenv(d.env); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed <= 0 {
				return nil, fmt.Errorf("$%s %q: want a positive duration such as 1m", d.env, v)
			}
			*d.to = parsed
		}
	}
	if v := os.Getenv(envRunCanary); v != "" && v != "0" {
		o.CollectorURL, o.CanaryInterval = info.CollectorURL, time.Minute
		if v != "1" {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				return nil, fmt.Errorf("$%s %q: want 1 (every minute) or an interval of at least 1s", envRunCanary, v)
			}
			o.CanaryInterval = d
		}
	}
	cfg := config.Local(o)
	exp, err := exporter.NewWithOptions(cfg, reg, log, exporter.Options{Version: version})
	if err != nil {
		return nil, fmt.Errorf("$%s, $%s, $%s: %w", envRunWindow, envRunInterval, envRunBudget, err)
	}
	// The effective configuration, for `plowline reconcile --config` while run is up.
	cfgPath := filepath.Join(info.DataDir, "exporter", "exporter.yaml")
	if data, err := cfg.Marshal(); err == nil {
		if err := os.MkdirAll(filepath.Dir(cfgPath), 0o755); err == nil {
			err = os.WriteFile(cfgPath, data, 0o644)
		}
		if err != nil {
			log.Warn("could not write the exporter configuration for plowline reconcile", "path", cfgPath, "err", err)
		}
	}
	ectx, cancel := context.WithCancel(context.Background())
	exp.Start(ectx)
	mux.Handle("/", exp.Handler())
	log.Info("exporter reconciling the local pipeline", "page", "http://"+info.WebAddress+"/", "window", cfg.Window, "edges", len(cfg.Edges),
		"reconcile", "plowline reconcile --config "+cfgPath)
	return func(sctx context.Context) error {
		cancel()
		select {
		case <-exp.Done():
			return nil
		case <-sctx.Done():
			return sctx.Err()
		}
	}, nil
}

func exporterLogger(s string, stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("--log.level %q: want debug, info, warn or error", s)}
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), nil
}

// exporterGC makes the exporter collect garbage at 50% heap growth instead
// of 100% unless $GOGC says otherwise: it is a long-lived sidecar whose live
// heap is mostly the objects it tracks, and its CPU is idle between
// refreshes, so a smaller peak is worth the extra collections (it keeps
// 100,000 tracked objects under 100 MB of RSS).
func exporterGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

// exporterLoadConfig reads --config, or explains that one is needed.
func exporterLoadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Config{}, &exitError{code: 2, err: errors.New("--config is required (print GitLab's default graph with --print-config and edit it)")}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return config.Config{}, &exitError{code: 2, err: err}
	}
	return cfg, nil
}

func runExporter(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("exporter", "exporter --config FILE [flags]", stderr)
	configFile := fs.String("config", "", "exporter configuration `file` (YAML: window, lookback, topology, sources, nodes, edges, canary; see docs/exporter.md)")
	listen := fs.String("web.listen-address", ":9807", "`address` to serve /metrics, the on-call page (/) and /reconcile.json on")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration `file` (TLS, basic auth) for every page served")
	metricsPath := fs.String("web.telemetry-path", "/metrics", "`path` of the metrics")
	logLevel := fs.String("log.level", "info", "log `level`: debug, info, warn or error")
	printConfig := fs.Bool("print-config", false, "print the effective configuration (GitLab's default without --config) as YAML and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: plowline exporter --config FILE [flags]

Refreshes every configured source (Prometheus, a process's /metrics,
CloudWatch, S3, the warehouse) in the background on its own interval, judges
every edge of the flow graph per window, and serves the result:
  /metrics          Prometheus metrics (cached values; a scrape never calls a source)
  /                 the on-call page: edges and nodes × recent windows, source health
  /reconcile.json   the same table as JSON (?windows=N for the N latest windows)

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *printConfig {
		cfg := config.Default()
		if *configFile != "" {
			c, err := exporterLoadConfig(*configFile)
			if err != nil {
				return err
			}
			cfg = c
		}
		data, err := cfg.Marshal()
		if err != nil {
			return err
		}
		_, err = stdout.Write(data)
		return err
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
	if !strings.HasPrefix(*metricsPath, "/") || *metricsPath == "/" || *metricsPath == "/reconcile.json" {
		return &exitError{code: 2, err: fmt.Errorf("--web.telemetry-path %q: want an absolute path other than / and /reconcile.json", *metricsPath)}
	}
	if *webConfig != "" {
		if err := web.Validate(*webConfig); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--web.config.file %s: %w", *webConfig, err)}
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := exporter.NewWithOptions(cfg, reg, log, exporter.Options{Version: version})
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	exp.MetricsPath = *metricsPath
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exp.Start(ctx)

	mux := http.NewServeMux()
	mux.Handle(*metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), Registry: reg, EnableOpenMetrics: true}))
	mux.Handle("/", exp.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	addrs := []string{*listen}
	systemd := false
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: webConfig}
	log.Info("exporter starting", "version", version, "listen", *listen, "sources", len(cfg.Sources), "nodes", len(cfg.Nodes), "edges", len(cfg.Edges), "window", cfg.Window, "lookback", cfg.Lookback)
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, flags, log) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serving on %s: %w", *listen, err)
	case <-ctx.Done():
	}
	log.Info("exporter stopping")
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	cancel()
	select {
	case <-exp.Done():
	case <-time.After(5 * time.Second):
		log.Warn("sources did not stop within 5s")
	}
	return nil
}
