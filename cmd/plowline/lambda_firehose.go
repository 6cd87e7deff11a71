package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/plowline/plowline/pipeline/lambda"
	"github.com/plowline/plowline/pipeline/pseudonymize"
)

// Environment of the pseudonymize Lambda function (Firehose data
// transformation). Exactly one key variable must be set.
const (
	envHMACKeyFile  = "PLOWLINE_HMAC_KEY_FILE"  // path of a file holding the key
	envHMACKey      = "PLOWLINE_HMAC_KEY"       // the key itself (prefer the secret id)
	envHMACSecretID = "PLOWLINE_HMAC_SECRET_ID" // Secrets Manager secret id or ARN
	envAllowlist    = "PLOWLINE_ALLOWLIST"      // allowlist YAML path; default: embedded
)

func init() { registerLambda("pseudonymize", startPseudonymizeLambda) }

func startPseudonymizeLambda(ctx context.Context) error {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	setLambdaMemoryLimit()
	allow := pseudonymize.DefaultAllowlist()
	if path := os.Getenv(envAllowlist); path != "" {
		var err error
		if allow, err = pseudonymize.LoadAllowlist(path); err != nil {
			return fmt.Errorf("%s: %w", envAllowlist, err)
		}
	}
	src := pseudonymize.KeySource{File: os.Getenv(envHMACKeyFile), SecretID: os.Getenv(envHMACSecretID)}
	if _, ok := os.LookupEnv(envHMACKey); ok {
		src.Env = envHMACKey
	}
	h := &lambda.Pseudonymize{
		Load: func(ctx context.Context) (*pseudonymize.Pseudonymizer, error) {
			if src == (pseudonymize.KeySource{}) {
				return nil, fmt.Errorf("no HMAC key: set %s, %s or %s", envHMACKeyFile, envHMACKey, envHMACSecretID)
			}
			key, err := pseudonymize.LoadKey(ctx, src, nil)
			if err != nil {
				return nil, err
			}
			return pseudonymize.New(allow, key)
		},
		Logger:   logger,
		EMF:      os.Stdout,
		Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
	}
	// Read the key at start so a misconfiguration shows in the first log
	// lines; invocations retry the load and fail while it fails.
	if err := h.Init(ctx); err != nil {
		logger.Error("pseudonymizer not ready; invocations will fail", "reason", err.Error())
	}
	awslambda.StartWithOptions(h, awslambda.WithContext(ctx))
	return nil
}

// setLambdaMemoryLimit keeps the Go heap under the function's memory size
// (unless GOMEMLIMIT is set) so a 6 MB batch fits a 128 MB function.
func setLambdaMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	mb, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if err != nil || mb <= 0 {
		return
	}
	debug.SetMemoryLimit(int64(mb) << 20 / 2)
}
