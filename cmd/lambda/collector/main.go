// Command collector is the collector Lambda function's bootstrap for the
// provided.al2023 runtime (behind an ALB or a function URL). It links only
// the collector and its Kinesis sink; `make lambda` builds and zips it.
// Environment: see pipeline/lambda/collectorfn and docs/lambda.md.
package main

import (
	"github.com/plowline/plowline/pipeline/lambda"
	"github.com/plowline/plowline/pipeline/lambda/collectorfn"
)

// version is set at link time (-X main.version).
var version = "dev"

func main() { lambda.Main("collector", collectorfn.Start, version) }
