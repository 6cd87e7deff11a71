package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/plowline/plowline/pipeline/enrich"
)

func init() {
	register(&command{
		name:    "enrich",
		summary: "enrich collector payloads (base64 lines) into enriched TSV and bad rows",
		run:     runEnrich,
	})
}

func runEnrich(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("enrich", "enrich [--config FILE] [--in FILE] [--good FILE] [--bad FILE]", stderr)
	configPath := fs.String("config", "", "enrich configuration YAML: registries, schema cache, enrichments on/off and their settings\n(default: the built-in configuration — embedded schemas only, works offline; every enrichment on except anon_ip)")
	in := fs.String("in", "-", "input: collector payloads, one standard-base64 Thrift record per line ('-' = stdin)")
	good := fs.String("good", "-", "output for enriched events, one 131-field TSV line each ('-' = stdout)")
	bad := fs.String("bad", "", "output for bad rows, one self-describing JSON line each ('-' = stdout; default: stderr, as Snowplow's stdout sink)")
	workers := fs.Int("workers", 1, "payloads enriched in parallel (output order is kept); e.g. the number of cores")
	logLevel := fs.String("log.level", "warn", "log level on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if *workers < 1 || *workers > 1024 {
		return fmt.Errorf("--workers %d: want 1 to 1024", *workers)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log.level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := enrich.DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = enrich.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	cfg.Version = version
	e, err := enrich.New(cfg, nil, log)
	if err != nil {
		return err
	}

	var r io.Reader = stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("--in: %w", err)
		}
		defer f.Close()
		r = f
	}
	open := func(flag, path string, def io.Writer) (io.Writer, func() error, error) {
		switch path {
		case "-":
			return stdout, func() error { return nil }, nil
		case "":
			return def, func() error { return nil }, nil
		}
		f, err := os.Create(path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", flag, err)
		}
		return f, f.Close, nil
	}
	gw, closeGood, err := open("--good", *good, stdout)
	if err != nil {
		return err
	}
	bw, closeBad, err := open("--bad", *bad, stderr)
	if err != nil {
		closeGood()
		return err
	}
	sum, err := e.Process(ctx, r, gw, bw, *workers)
	if cerr := closeGood(); cerr != nil && err == nil {
		err = fmt.Errorf("--good: %w", cerr)
	}
	if cerr := closeBad(); cerr != nil && err == nil {
		err = fmt.Errorf("--bad: %w", cerr)
	}
	log.Info("enrich done", "summary", sum.String())
	return err
}
