// Package lambda holds the thin AWS Lambda adapters, one file per stage:
// they turn a Lambda event (Firehose transformation, Kinesis batch, ALB or
// function-URL request) into calls on the stage's own package and back.
// Logic lives in the stage packages; these files only translate.
package lambda
