// Package collectorfn is the collector as an AWS Lambda function behind an
// Application Load Balancer or a function URL: Start wires it from the
// environment, CollectorHandler translates the events, KinesisPutSink
// writes before the answer. Logic lives in pipeline/collector.
package collectorfn
