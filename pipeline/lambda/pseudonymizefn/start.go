package pseudonymizefn

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/plowline/plowline/pipeline/pseudonymize"
)

// Environment of the pseudonymize Lambda function (Firehose data
// transformation; documented in docs/lambda.md). Exactly one key variable
// must be set.
const (
	EnvHMACKeyFile  = "PLOWLINE_HMAC_KEY_FILE"  // path of a file holding the key
	EnvHMACKey      = "PLOWLINE_HMAC_KEY"       // the key itself (prefer the secret id)
	EnvHMACSecretID = "PLOWLINE_HMAC_SECRET_ID" // Secrets Manager secret id or ARN
	EnvAllowlist    = "PLOWLINE_ALLOWLIST"      // allowlist YAML path; default: embedded
)

// Start serves the pseudonymizer as a Firehose data-transformation
// function until ctx ends. It reads the HMAC key at start so a
// misconfiguration shows in the first log lines; invocations retry the
// load and fail while it fails. version is unused: pseudonymized events
// carry the enricher's version.
func Start(ctx context.Context, version string) error {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	setMemoryLimit()
	allow := pseudonymize.DefaultAllowlist()
	if path := os.Getenv(EnvAllowlist); path != "" {
		var err error
		if allow, err = pseudonymize.LoadAllowlist(path); err != nil {
			return fmt.Errorf("%s: %w", EnvAllowlist, err)
		}
	}
	src := pseudonymize.KeySource{File: os.Getenv(EnvHMACKeyFile), SecretID: os.Getenv(EnvHMACSecretID)}
	if _, ok := os.LookupEnv(EnvHMACKey); ok {
		src.Env = EnvHMACKey
	}
	h := &Pseudonymize{
		Load: func(ctx context.Context) (*pseudonymize.Pseudonymizer, error) {
			if src == (pseudonymize.KeySource{}) {
				return nil, fmt.Errorf("no HMAC key: set %s, %s or %s", EnvHMACKeyFile, EnvHMACKey, EnvHMACSecretID)
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
	if err := h.Init(ctx); err != nil {
		logger.Error("pseudonymizer not ready; invocations will fail", "reason", err.Error())
	}
	awslambda.StartWithOptions(h, awslambda.WithContext(ctx))
	return nil
}

// setMemoryLimit keeps the Go heap under the function's memory size
// (unless GOMEMLIMIT is set) so a 6 MB batch fits a 128 MB function.
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	mb, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if err != nil || mb <= 0 {
		return
	}
	debug.SetMemoryLimit(int64(mb) << 20 / 2)
}
