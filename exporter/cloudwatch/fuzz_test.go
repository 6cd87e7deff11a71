package cloudwatch

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/plowline/plowline/exporter/source"
)

// scriptedAPI answers with whatever results the fuzzer made up: CloudWatch
// answers are untrusted input to the window arithmetic.
type scriptedAPI struct {
	out *cloudwatch.GetMetricDataOutput
}

func (a scriptedAPI) GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return a.out, nil
}

func FuzzAnswers(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, uint8(0), uint8(2))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x01"), uint8(1), uint8(0))
	statuses := []types.StatusCode{types.StatusCodeComplete, types.StatusCodePartialData, types.StatusCodeForbidden, "Bogus"}
	f.Fuzz(func(t *testing.T, data []byte, status uint8, extra uint8) {
		var res types.MetricDataResult
		res.Id = aws.String("q0")
		res.StatusCode = statuses[int(status)%len(statuses)]
		base := testNow.Add(-6 * time.Hour).Unix()
		for len(data) >= 16 {
			off := int64(binary.BigEndian.Uint64(data[:8]) % (8 * 3600))
			v := math.Float64frombits(binary.BigEndian.Uint64(data[8:16]))
			res.Timestamps = append(res.Timestamps, time.Unix(base+off, 0))
			res.Values = append(res.Values, v)
			data = data[16:]
		}
		for range int(extra) % 3 { // mismatched lengths
			res.Values = append(res.Values, 1)
		}
		q := Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Stat: "Sum", Node: "n",
			Gauge: "plowline_kinesis_incoming_records", Missing: []string{"zero", "unknown"}[int(status)%2]}
		s, err := New("fuzz", Config{Queries: []Query{q}}, scriptedAPI{&cloudwatch.GetMetricDataOutput{MetricDataResults: []types.MetricDataResult{res}}})
		if err != nil {
			t.Fatal(err)
		}
		s.now = func() time.Time { return testNow }
		from := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
		out, err := s.Refresh(context.Background(), source.Range{From: from, To: from.Add(7 * time.Hour), Window: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for w := range out.Series[0].Counts {
			if w.Add(time.Hour).After(testNow.Add(-DefaultDelay)) || w.Before(from) {
				t.Fatalf("window %s outside the settled range", w)
			}
		}
		if len(res.Timestamps) != len(res.Values) && (len(out.Series[0].Counts) > 0 || len(out.Gauges) > 0) {
			t.Fatal("malformed answer produced counts")
		}
	})
}
