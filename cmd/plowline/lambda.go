package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/plowline/plowline/pipeline/lambda"
	"github.com/plowline/plowline/pipeline/lambda/collectorfn"
	"github.com/plowline/plowline/pipeline/lambda/enrichfn"
	"github.com/plowline/plowline/pipeline/lambda/pseudonymizefn"
)

// lambdaHandlers maps a stage name to the function that serves it as an AWS
// Lambda function (it blocks in the runtime loop). Each also ships as its
// own, smaller bootstrap (cmd/lambda/<stage>, `make lambda`); this command
// keeps the single binary able to serve all three.
var lambdaHandlers = map[string]lambda.StartFunc{
	"collector":    collectorfn.Start,
	"enrich":       enrichfn.Start,
	"pseudonymize": pseudonymizefn.Start,
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
	start, ok := lambdaHandlers[stage]
	if !ok {
		names := make([]string, 0, len(lambdaHandlers))
		for n := range lambdaHandlers {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("lambda stage %q unknown (set the function's handler or pass one of: %s)", stage, strings.Join(names, ", "))
	}
	return lambda.Run(ctx, start, version)
}
