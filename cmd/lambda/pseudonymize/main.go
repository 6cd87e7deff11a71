// Command pseudonymize is the pseudonymize Lambda function's bootstrap for
// the provided.al2023 runtime (a Firehose data transformation). It links
// only the pseudonymizer and the Secrets Manager client for its key;
// `make lambda` builds and zips it. Environment: see
// pipeline/lambda/pseudonymizefn and docs/lambda.md.
package main

import (
	"github.com/plowline/plowline/pipeline/lambda"
	"github.com/plowline/plowline/pipeline/lambda/pseudonymizefn"
)

// version is set at link time (-X main.version).
var version = "dev"

func main() { lambda.Main("pseudonymize", pseudonymizefn.Start, version) }
