// Package enrichfn is the enricher as an AWS Lambda function on a Kinesis
// event source: Start wires it from the environment, EnrichHandler enriches
// a batch, writes the outputs and reports the records it could not write.
// Logic lives in pipeline/enrich.
package enrichfn
