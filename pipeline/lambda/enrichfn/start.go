package enrichfn

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/lambda"
	"github.com/plowline/plowline/pipeline/stream"
)

// Environment of the enrich Lambda function (documented in docs/lambda.md).
const (
	EnvGoodStream = "PLOWLINE_ENRICHED_GOOD_STREAM" // enriched-good stream name (required)
	EnvBadStream  = "PLOWLINE_ENRICHED_BAD_STREAM"  // enriched-bad stream name (required)
	EnvConfig     = "PLOWLINE_ENRICH_CONFIG"        // enrich YAML path (optional)
)

// Start serves the enricher for a Kinesis event source until ctx ends.
// Environment: PLOWLINE_ENRICHED_GOOD_STREAM and
// PLOWLINE_ENRICHED_BAD_STREAM (required), PLOWLINE_KINESIS_ENDPOINT
// (optional, e.g. a VPC endpoint or a local emulator) and
// PLOWLINE_ENRICH_CONFIG (optional path of the enrich YAML). version names
// the build (enrich.Config.Version).
func Start(ctx context.Context, version string) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	good, bad := os.Getenv(EnvGoodStream), os.Getenv(EnvBadStream)
	if good == "" || bad == "" {
		return fmt.Errorf("enrich lambda: %s and %s must name the enriched streams (got %q and %q)", EnvGoodStream, EnvBadStream, good, bad)
	}
	cfg := enrich.DefaultConfig()
	if path := os.Getenv(EnvConfig); path != "" {
		var err error
		if cfg, err = enrich.LoadConfig(path); err != nil {
			return fmt.Errorf("%s: %w", EnvConfig, err)
		}
	}
	cfg.Version = version
	e, err := enrich.New(cfg, nil, log)
	if err != nil {
		return err
	}
	api, err := stream.NewKinesisClient(ctx, "", os.Getenv(lambda.EnvKinesisEndpoint))
	if err != nil {
		return fmt.Errorf("enrich lambda: %w", err)
	}
	h := &EnrichHandler{Enricher: e, API: api, GoodStream: good, BadStream: bad,
		Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), EMF: os.Stdout, Log: log}
	log.Info("starting", "handler", h.String())
	awslambda.StartWithOptions(h.Handle, awslambda.WithContext(ctx))
	return nil
}
