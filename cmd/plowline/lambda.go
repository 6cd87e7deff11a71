package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// envKinesisEndpoint overrides the Kinesis endpoint of the stages that
// write to streams (a VPC endpoint, or kinesalite in tests).
const envKinesisEndpoint = "PLOWLINE_KINESIS_ENDPOINT"

// lambdaHandlers maps a stage name to the function that serves it as an AWS
// Lambda function (it blocks in lambda.Start). Stages register in init.
var lambdaHandlers = map[string]func(ctx context.Context) error{}

func registerLambda(stage string, start func(ctx context.Context) error) {
	if _, dup := lambdaHandlers[stage]; dup {
		panic("plowline: lambda stage registered twice: " + stage)
	}
	lambdaHandlers[stage] = start
}

func init() {
	register(&command{
		name:    "lambda",
		summary: "serve a pipeline stage as an AWS Lambda function (provided.al2023 custom runtime)",
		run:     runLambda,
	})
}

// runLambda picks the stage from its argument or, as the provided.al2023
// runtime passes the function's handler setting, from $_HANDLER.
func runLambda(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	stage := os.Getenv("_HANDLER")
	if len(args) > 0 {
		stage = args[0]
	}
	// Fault injection is a local game-day tool; a production function must
	// never lose or duplicate data on purpose, so refuse to start rather
	// than ignore the setting silently.
	if v := os.Getenv("PLOWLINE_FAULT"); v != "" {
		return fmt.Errorf("PLOWLINE_FAULT=%q: fault injection cannot be enabled in Lambda mode; remove the variable", v)
	}
	start, ok := lambdaHandlers[stage]
	if !ok {
		names := make([]string, 0, len(lambdaHandlers))
		for n := range lambdaHandlers {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("lambda stage %q unknown (set the function's handler or pass one of: %s)", stage, strings.Join(names, ", "))
	}
	return start(ctx)
}
