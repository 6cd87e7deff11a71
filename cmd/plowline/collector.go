package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/plowline/plowline/pipeline/collector"
	"github.com/plowline/plowline/pipeline/stream"
)

func init() {
	register(&command{
		name:    "collector",
		summary: "serve the Snowplow tracker protocol; write collector payloads to Kinesis, files or stdout",
		run:     runCollector,
	})
}

func runCollector(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("collector", "collector [flags]", stderr)
	def := collector.DefaultConfig()
	configFile := fs.String("config", "", "YAML configuration `file` (keys and defaults below); flags given explicitly override it")
	listen := fs.String("listen-address", def.ListenAddress, "`host:port` trackers send to (config: listen_address)")
	web := fs.String("web.listen-address", def.MetricsListenAddress, "`host:port` serving /metrics (config: metrics_listen_address)")
	sinkType := fs.String("sink", def.Sink.Type, "where payloads go: kinesis, file or stdout (config: sink.type)")
	good := fs.String("good", def.Sink.Good, "good payloads: a Kinesis stream `name` (--sink kinesis) or a file path (--sink file) (config: sink.good)")
	bad := fs.String("bad", def.Sink.Bad, "bad rows: a Kinesis stream `name` or a file path (config: sink.bad)")
	endpoint := fs.String("kinesis.endpoint", "", "Kinesis endpoint `URL` (kinesalite, VPC endpoint); empty means AWS (config: sink.kinesis.endpoint)")
	region := fs.String("kinesis.region", "", "AWS `region` of the streams; default $AWS_REGION (config: sink.kinesis.region)")
	logLevel := fs.String("log.level", "info", "log `level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: plowline collector [flags]

Serves the Snowplow tracker protocol (POST /com.snowplowanalytics.snowplow/tp2,
GET /i, /ice.png and /{vendor}/{version}, OPTIONS preflight, /health,
/sink-health, /robots.txt) and writes one Thrift CollectorPayload per request
to the good sink; payloads too big for the sink become size_violation bad rows
on the bad sink. A 200 means the sink took the payload; when it cannot, the
answer is 503 and trackers retry. SIGTERM or SIGINT: stop accepting, finish
requests in flight, flush buffers, exit 0.

Kinesis credentials come from the usual AWS sources (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role); the region from
--kinesis.region or AWS_REGION.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nConfiguration file (--config); every key is optional, the values shown are the defaults:\n\n%s", collector.ConfigReference)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}

	cfg := def
	if *configFile != "" {
		var err error
		if cfg, err = collector.LoadConfig(*configFile); err != nil {
			return err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen-address":
			cfg.ListenAddress = *listen
		case "web.listen-address":
			cfg.MetricsListenAddress = *web
		case "sink":
			cfg.Sink.Type = *sinkType
		case "good":
			cfg.Sink.Good = *good
		case "bad":
			cfg.Sink.Bad = *bad
		case "kinesis.endpoint":
			cfg.Sink.Kinesis.Endpoint = *endpoint
		case "kinesis.region":
			cfg.Sink.Kinesis.Region = *region
		}
	})
	cfg.Version = version
	if cfg.Sink.Type == "memory" {
		return errors.New(`sink.type "memory" is for plowline run only; use kinesis, file or stdout`)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log.level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	flushes, err := collector.NewFlushMetrics(reg)
	if err != nil {
		return err
	}
	goodSink, badSink, err := collectorSinks(ctx, cfg, flushes, stdout, stderr)
	if err != nil {
		return err
	}
	c, err := collector.New(cfg, goodSink, badSink, reg, log)
	if err != nil {
		closeCollectorSinks(goodSink, badSink)
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		closeCollectorSinks(goodSink, badSink)
		return fmt.Errorf("listen_address: %w", err)
	}
	mln, err := net.Listen("tcp", cfg.MetricsListenAddress)
	if err != nil {
		ln.Close()
		closeCollectorSinks(goodSink, badSink)
		return fmt.Errorf("metrics_listen_address: %w", err)
	}
	srv := collector.NewServer(cfg.ListenAddress, c.Handler(), cfg)
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(collector.WrapListener(ln, cfg.Limits)) }()
	go func() { serveErr <- msrv.Serve(mln) }()
	log.Info("collector listening", "address", ln.Addr().String(), "metrics", mln.Addr().String(),
		"sink", cfg.Sink.Type, "good", cfg.Sink.Good, "bad", cfg.Sink.Bad, "collector", c.Name())

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing requests and flushing sinks", "timeout", cfg.ShutdownTimeout)
	case runErr = <-serveErr:
		runErr = fmt.Errorf("serving: %w", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	errs := []error{runErr}
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stopping the listener: %w", err))
	}
	if err := c.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("draining: %w", err))
	}
	msrv.Shutdown(sctx)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("collector stopped; sinks drained")
	return nil
}

// collectorSinks builds the good and bad sinks the configuration names.
func collectorSinks(ctx context.Context, cfg collector.Config, flushes *collector.FlushMetrics, stdout, stderr io.Writer) (good, bad stream.Sink, err error) {
	switch cfg.Sink.Type {
	case "stdout":
		// As Snowplow's stdout sink: good records on stdout, bad rows on stderr.
		return stream.NewFileSink(collectorStdio{stdout}), stream.NewFileSink(collectorStdio{stderr}), nil
	case "file":
		g, err := os.OpenFile(cfg.Sink.Good, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("sink.good: %w", err)
		}
		b, err := os.OpenFile(cfg.Sink.Bad, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			g.Close()
			return nil, nil, fmt.Errorf("sink.bad: %w", err)
		}
		return stream.NewFileSink(g), stream.NewFileSink(b), nil
	case "kinesis":
		k := cfg.Sink.Kinesis
		client, err := stream.NewKinesisClient(ctx, k.Region, k.Endpoint)
		if err != nil {
			return nil, nil, err
		}
		// Fail at start, not on the first request, if a stream is missing
		// or the credentials cannot see it.
		for key, name := range map[string]string{"sink.good": cfg.Sink.Good, "sink.bad": cfg.Sink.Bad} {
			dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, err := client.DescribeStreamSummary(dctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
			cancel()
			if err != nil {
				where := "AWS"
				if k.Endpoint != "" {
					where = k.Endpoint
				}
				return nil, nil, fmt.Errorf("%s: Kinesis stream %q at %s: %w", key, name, where, err)
			}
		}
		opts := stream.KinesisSinkOptions{
			MaxBatchRecords:  k.MaxBatchRecords,
			MaxBatchBytes:    k.MaxBatchBytes,
			Linger:           k.FlushInterval,
			BufferLimitBytes: k.BufferBytes,
		}
		goodOpts, badOpts := opts, opts
		goodOpts.OnFlush, badOpts.OnFlush = flushes.Observer("good"), flushes.Observer("bad")
		return stream.NewKinesisSink(client, cfg.Sink.Good, goodOpts), stream.NewKinesisSink(client, cfg.Sink.Bad, badOpts), nil
	}
	return nil, nil, fmt.Errorf("sink.type %q: want kinesis, file or stdout", cfg.Sink.Type)
}

func closeCollectorSinks(sinks ...stream.Sink) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range sinks {
		s.Close(ctx)
	}
}

// collectorStdio keeps the sink's Close from closing stdout or stderr.
type collectorStdio struct{ io.Writer }

func (collectorStdio) Close() error { return nil }
