package cloudwatch

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/plowline/plowline/exporter/source"
)

// BenchmarkRefreshWindowArithmetic measures the source's own work per
// refresh (collecting datapoints, summing windows) for a full call: 500
// queries × 24 h of 1-minute datapoints, answered in memory.
func BenchmarkRefreshWindowArithmetic(b *testing.B) {
	from := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var qs []Query
	var results []types.MetricDataResult
	for i := range 500 {
		qs = append(qs, Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Stat: "Sum", Node: fmt.Sprintf("n%d", i)})
		r := types.MetricDataResult{Id: aws.String(fmt.Sprintf("q%d", i)), StatusCode: types.StatusCodeComplete}
		for p := range 1440 {
			r.Timestamps = append(r.Timestamps, from.Add(time.Duration(1439-p)*time.Minute))
			r.Values = append(r.Values, float64(p))
		}
		results = append(results, r)
	}
	s, err := New("bench", Config{Queries: qs}, scriptedAPI{&cloudwatch.GetMetricDataOutput{MetricDataResults: results}})
	if err != nil {
		b.Fatal(err)
	}
	s.now = func() time.Time { return from.Add(24*time.Hour + 5*time.Minute) }
	r := source.Range{From: from, To: from.Add(24 * time.Hour), Window: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Refresh(context.Background(), r)
		if err != nil || len(res.Series[0].Counts) != 24 {
			b.Fatal(err, len(res.Series[0].Counts))
		}
	}
	b.ReportMetric(float64(500*1440), "datapoints/op")
}
