package collector

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/stream"
)

// acceptAll is a Kinesis API that takes every record.
type acceptAll struct{}

func (acceptAll) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0)}
	for range in.Records {
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String("1"), ShardId: aws.String("shardId-0")})
	}
	return out, nil
}

func TestFlushMetricsFollowTheKinesisSink(t *testing.T) {
	reg := prometheus.NewRegistry()
	fm, err := NewFlushMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	sink := stream.NewKinesisSink(acceptAll{}, "raw-good", stream.KinesisSinkOptions{Linger: 10 * time.Millisecond, OnFlush: fm.Observer("good")})
	h := &harness{t: t, reg: reg}
	cfg := DefaultConfig()
	cfg.Sink.Type = "kinesis"
	c, err := New(cfg, sink, &recordingSink{}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	for range 3 {
		if w := h.do(req("GET", "/i", "")); w.Code != 200 {
			t.Fatal(w.Code)
		}
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.metric(metricname.CollectorFlushedRecords.Name, "sink", "good"); got != 3 {
		t.Fatalf("flushed records = %v, want 3", got)
	}
	if h.metric(metricname.CollectorFlushDuration.Name, "sink", "good") == 0 {
		t.Fatal("no flush duration observed")
	}
	if h.metric(metricname.CollectorBufferLimitBytes.Name, "sink", "good") != 64<<20 {
		t.Fatal("buffer limit not reported from the Kinesis sink")
	}
}
