// Package lambda holds what every plowline AWS Lambda function shares: the
// start-up checks (Run) and the main function of each function's own
// bootstrap (Main, used by cmd/lambda/*). It imports only the standard
// library, so it adds nothing to any function's binary.
//
// Each function lives in its own subpackage, a thin adapter that turns a
// Lambda event into calls on its stage's package and back: collectorfn
// (ALB or function-URL requests), enrichfn (Kinesis batches) and
// pseudonymizefn (Firehose transformation). Keeping them apart keeps each
// bootstrap's import graph to its own stage (TestFunctionImportGraphs).
package lambda
