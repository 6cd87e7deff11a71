package testkit

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// TestKinesaliteAnswersTheSDK proves the stand-in starts and speaks the
// Kinesis API the pipeline uses.
func TestKinesaliteAnswersTheSDK(t *testing.T) {
	endpoint := Kinesalite(t)
	c := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AK", "SK", ""),
	})
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("probe"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.StreamNames) != 1 || out.StreamNames[0] != "probe" {
		t.Fatalf("streams = %v", out.StreamNames)
	}
}
