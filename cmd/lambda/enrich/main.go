// Command enrich is the enrich Lambda function's bootstrap for the
// provided.al2023 runtime (a Kinesis event source on raw-good). It links
// only the enricher and its Kinesis writer; `make lambda` builds and zips
// it. Environment: see pipeline/lambda/enrichfn and docs/lambda.md.
package main

import (
	"github.com/plowline/plowline/pipeline/lambda"
	"github.com/plowline/plowline/pipeline/lambda/enrichfn"
)

// version is set at link time (-X main.version).
var version = "dev"

func main() { lambda.Main("enrich", enrichfn.Start, version) }
