package lambda

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// EnvKinesisEndpoint overrides the Kinesis endpoint of the functions that
// write to streams (a VPC endpoint, or kinesalite in tests).
const EnvKinesisEndpoint = "PLOWLINE_KINESIS_ENDPOINT"

// envFault is the local fault-injection setting (pipeline/fault), which a
// function refuses. Named here, not imported: functions must not link the
// fault injector at all.
const envFault = "PLOWLINE_FAULT"

// StartFunc serves one Lambda function until ctx ends: it blocks in the
// runtime loop, and returns an error only when the function cannot start.
// version names the build.
type StartFunc func(ctx context.Context, version string) error

// Run checks the environment every function shares, then serves start.
func Run(ctx context.Context, start StartFunc, version string) error {
	// Fault injection is a local game-day tool; a production function must
	// never lose or duplicate data on purpose, so refuse to start rather
	// than ignore the setting silently.
	if v := os.Getenv(envFault); v != "" {
		return fmt.Errorf("%s=%q: fault injection cannot be enabled in Lambda mode; remove the variable", envFault, v)
	}
	return start(ctx, version)
}

// Main is the main function of a function's own bootstrap (cmd/lambda/*):
// it serves start until SIGTERM or SIGINT and exits 1 with the error on
// stderr when the function cannot start, so the runtime reports an init
// error.
func Main(name string, start StartFunc, version string) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, start, version)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "plowline %s lambda: %v\n", name, err)
		os.Exit(1)
	}
}
