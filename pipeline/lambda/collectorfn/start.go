package collectorfn

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/pipeline/collector"
	"github.com/plowline/plowline/pipeline/lambda"
	"github.com/plowline/plowline/pipeline/stream"
)

// Environment of the collector Lambda function (documented in docs/lambda.md).
const (
	EnvGoodStream = "PLOWLINE_GOOD_STREAM"      // raw-good stream name (required)
	EnvBadStream  = "PLOWLINE_BAD_STREAM"       // raw-bad stream name (required)
	EnvConfig     = "PLOWLINE_COLLECTOR_CONFIG" // collector YAML path (optional)
)

// Start serves the collector behind an ALB or a function URL until ctx
// ends. Environment: PLOWLINE_GOOD_STREAM and PLOWLINE_BAD_STREAM
// (required), PLOWLINE_KINESIS_ENDPOINT (optional: a VPC endpoint or a
// local emulator), PLOWLINE_COLLECTOR_CONFIG (optional path of the
// collector YAML; its sink and listen keys are ignored). Writes are
// synchronous, so the default limits.sink_timeout is 10s here. version
// names the build in the collector's name and logs.
func Start(ctx context.Context, version string) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	good, bad := os.Getenv(EnvGoodStream), os.Getenv(EnvBadStream)
	if good == "" || bad == "" {
		return fmt.Errorf("collector lambda: %s and %s must name the raw streams (got %q and %q)", EnvGoodStream, EnvBadStream, good, bad)
	}
	cfg := collector.DefaultConfig()
	cfg.Limits.SinkTimeout = 10 * time.Second
	if path := os.Getenv(EnvConfig); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvConfig, err)
		}
		if cfg, err = collector.ParseConfigOver(cfg, data); err != nil {
			return fmt.Errorf("%s %s: %w", EnvConfig, path, err)
		}
	}
	cfg.Version = version
	cfg.Sink.Type, cfg.Sink.Good, cfg.Sink.Bad = "kinesis", good, bad
	cfg.Sink.Kinesis.Endpoint = os.Getenv(lambda.EnvKinesisEndpoint)
	api, err := stream.NewKinesisClient(ctx, cfg.Sink.Kinesis.Region, cfg.Sink.Kinesis.Endpoint)
	if err != nil {
		return fmt.Errorf("collector lambda: %w", err)
	}
	// Retries must fit in the sink timeout, or the tracker gets a 503 for
	// records that were written after all.
	retry := stream.RetryPolicy{MaxAttempts: 4, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}
	reg := prometheus.NewRegistry()
	c, err := collector.New(cfg,
		&KinesisPutSink{API: api, Stream: good, Retry: retry},
		&KinesisPutSink{API: api, Stream: bad, Retry: retry},
		reg, log)
	if err != nil {
		return err
	}
	h := &CollectorHandler{Handler: c.Handler(), Metrics: reg,
		Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), EMF: os.Stdout, Log: log}
	log.Info("starting", "handler", "collector", "good", good, "bad", bad, "collector", c.Name())
	awslambda.StartWithOptions(h.Handle, awslambda.WithContext(ctx))
	return nil
}
