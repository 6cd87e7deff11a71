package main

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

// Environment of the enrich Lambda function.
const (
	envEnrichedGood = "PLOWLINE_ENRICHED_GOOD_STREAM"
	envEnrichedBad  = "PLOWLINE_ENRICHED_BAD_STREAM"
	envEnrichConfig = "PLOWLINE_ENRICH_CONFIG"
)

func init() {
	registerLambda("enrich", startEnrichLambda)
}

// startEnrichLambda serves the enricher for a Kinesis event source. The
// function's environment: PLOWLINE_ENRICHED_GOOD_STREAM and
// PLOWLINE_ENRICHED_BAD_STREAM (required), PLOWLINE_KINESIS_ENDPOINT
// (optional, e.g. a VPC endpoint or a local emulator) and
// PLOWLINE_ENRICH_CONFIG (optional path of the enrich YAML).
func startEnrichLambda(ctx context.Context) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	good, bad := os.Getenv(envEnrichedGood), os.Getenv(envEnrichedBad)
	if good == "" || bad == "" {
		return fmt.Errorf("enrich lambda: %s and %s must name the enriched streams (got %q and %q)", envEnrichedGood, envEnrichedBad, good, bad)
	}
	cfg := enrich.DefaultConfig()
	if path := os.Getenv(envEnrichConfig); path != "" {
		var err error
		if cfg, err = enrich.LoadConfig(path); err != nil {
			return fmt.Errorf("%s: %w", envEnrichConfig, err)
		}
	}
	cfg.Version = version
	e, err := enrich.New(cfg, nil, log)
	if err != nil {
		return err
	}
	api, err := stream.NewKinesisClient(ctx, "", os.Getenv(envKinesisEndpoint))
	if err != nil {
		return fmt.Errorf("enrich lambda: %w", err)
	}
	h := &lambda.EnrichHandler{Enricher: e, API: api, GoodStream: good, BadStream: bad,
		Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), EMF: os.Stdout, Log: log}
	log.Info("starting", "handler", h.String())
	awslambda.StartWithOptions(h.Handle, awslambda.WithContext(ctx))
	return nil
}
