package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/plowline/plowline/testkit"
)

// BenchmarkKinesisSinkToKinesalite measures end-to-end sink throughput into
// a real (emulated) stream: Put of 1 KiB records (a typical collector
// payload) until Close has written them all. Reports records/s and MB/s.
func BenchmarkKinesisSinkToKinesalite(b *testing.B) {
	url := testkit.Kinesalite(b)
	testkit.CreateStream(b, testkit.KinesisClient(url), "bench", 4)
	c, err := NewKinesisClient(context.Background(), "", url)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1024)
	for _, conc := range []int{1, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			sink := NewKinesisSink(c, "bench", KinesisSinkOptions{Linger: 20 * time.Millisecond, Concurrency: conc, BufferLimitBytes: 256 << 20})
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for {
					err := sink.Put(ctx, []Record{{PartitionKey: fmt.Sprint(i % 64), Data: data}})
					if err == nil {
						break
					}
					if err != ErrFull {
						b.Fatal(err)
					}
					time.Sleep(time.Millisecond)
				}
			}
			if err := sink.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkKinesisSinkPut measures Put alone (the collector's hot path): the
// buffer append, with a no-op API behind it.
func BenchmarkKinesisSinkPut(b *testing.B) {
	sink := NewKinesisSink(nopAPI{}, "bench", KinesisSinkOptions{})
	defer sink.Close(context.Background())
	ctx := context.Background()
	recs := []Record{{PartitionKey: "10.0.0.1", Data: make([]byte, 1024)}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for sink.Put(ctx, recs) == ErrFull {
			}
		}
	})
}

type nopAPI struct{}

func (nopAPI) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0), Records: make([]types.PutRecordsResultEntry, len(in.Records))}, nil
}

// slowAPI answers every call after a fixed delay: a stand-in for the round
// trip to real Kinesis, which (not CPU) bounds one flusher.
type slowAPI struct{ delay time.Duration }

func (s slowAPI) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	time.Sleep(s.delay)
	return nopAPI{}.PutRecords(ctx, in, o...)
}

// BenchmarkKinesisSinkLatencyBound compares flusher concurrency when each
// PutRecords call takes 20ms (a typical in-region round trip): throughput
// should scale with Concurrency, which kinesalite (one busy node process)
// cannot show.
func BenchmarkKinesisSinkLatencyBound(b *testing.B) {
	data := make([]byte, 1024)
	for _, conc := range []int{1, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			sink := NewKinesisSink(slowAPI{20 * time.Millisecond}, "bench", KinesisSinkOptions{Linger: 20 * time.Millisecond, Concurrency: conc, BufferLimitBytes: 256 << 20})
			ctx := context.Background()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for sink.Put(ctx, []Record{{PartitionKey: fmt.Sprint(i % 64), Data: data}}) == ErrFull {
					time.Sleep(time.Millisecond)
				}
			}
			if err := sink.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}
