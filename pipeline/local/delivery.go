package local

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/pipeline/lake"
	"github.com/plowline/plowline/pipeline/pseudonymize"
	"github.com/plowline/plowline/pipeline/stream"
)

// delivery is one Firehose delivery stream: it reads a stream, runs the
// pseudonymizer over each record (Firehose's data transformation) and
// hands the result to a batch writer; records the pseudonymizer rejects go,
// as Firehose writes them, to processing-failed/.
type delivery struct {
	p      *Pipeline
	name   string // delivery stream name (= its source stream's name, as GitLab's)
	prefix string
	src    *stream.Memory
	pseudo *pseudonymize.Pseudonymizer
	writer *lake.Writer
	out    stream.Sink // writer, behind the fault point pseudonymizer>prefix
	failed *lake.Writer
	ok, ko prometheus.Counter
}

func (p *Pipeline) newDelivery(src *stream.Memory, prefix string, pseudo *pseudonymize.Pseudonymizer, client lake.ObjectPutter, wm *lake.WriterMetrics) (*delivery, error) {
	name := src.Name()
	wc := lake.DefaultWriterConfig(p.cfg.Bucket, prefix, name)
	wc.BufferBytes, wc.BufferInterval = p.cfg.BufferBytes, p.cfg.BufferInterval
	wc.OnPut = func(key string, _ int) { p.loader.Notify(key) }
	wc.Counts, wc.CountNode = p.win, CountLake(prefix)
	w, err := lake.NewWriter(wc, client, wm, p.log)
	if err != nil {
		return nil, err
	}
	fc := lake.DefaultWriterConfig(p.cfg.Bucket, lake.PrefixProcessingFailed, name)
	fc.BufferBytes, fc.BufferInterval = p.cfg.BufferBytes, p.cfg.BufferInterval
	f, err := lake.NewWriter(fc, client, wm, p.log)
	if err != nil {
		w.Close(context.Background())
		return nil, err
	}
	return &delivery{
		p: p, name: name, prefix: prefix, src: src, pseudo: pseudo,
		writer: w, out: p.inj.Sink("pseudonymizer>"+prefix, w), failed: f,
		ok: p.pseudoRecords.WithLabelValues(name, "ok"),
		ko: p.pseudoRecords.WithLabelValues(name, "processing_failed"),
	}, nil
}

// shortName is a stream's name without GitLab's "snowplow-" prefix, as
// fault points name it.
func shortName(stream string) string { return strings.TrimPrefix(stream, "snowplow-") }

func (d *delivery) run() {
	ctx := context.Background()
	point := shortName(d.name) + ">pseudonymizer"
	for {
		recs, err := d.src.ReadUpTo(ctx, 500, readBytes)
		if err != nil {
			return // closed and drained
		}
		recs = d.p.inj.Records(point, recs)
		good := make([]stream.Record, 0, len(recs))
		var failed []stream.Record
		var okIn, failedIn [][]byte
		for _, r := range recs {
			out, err := d.pseudo.Transform(nil, r.Data)
			if err != nil {
				d.ko.Inc()
				failedIn = append(failedIn, r.Data)
				// The reason never quotes the line's values.
				d.p.log.Warn("record processing failed", "delivery_stream", d.name, "reason", err.Error())
				failed = append(failed, stream.Record{Data: processingFailed(d.name, r.Data, err)})
				continue
			}
			d.ok.Inc()
			okIn = append(okIn, r.Data)
			good = append(good, stream.Record{Data: out})
		}
		// Counted by the input's event time: the same time the output
		// keeps (collector_tstamp, failure timestamp).
		d.p.win.AddRecords(CountPseudonymizer(shortName(d.name), true), okIn)
		d.p.win.AddRecords(CountPseudonymizer(shortName(d.name), false), failedIn)
		if len(good) > 0 {
			if err := d.out.Put(ctx, good); err != nil {
				d.p.log.Error("pseudonymized records lost", "delivery_stream", d.name, "records", len(good), "err", err)
			}
		}
		if len(failed) > 0 {
			if err := d.failed.Put(ctx, failed); err != nil {
				d.p.log.Error("processing-failed records lost", "delivery_stream", d.name, "records", len(failed), "err", err)
			}
		}
	}
}

// processingFailed is the record Firehose writes under processing-failed/
// when the transformation Lambda returns ProcessingFailed: the original
// data, base64, with the error.
func processingFailed(name string, data []byte, reason error) []byte {
	now := time.Now().UnixMilli()
	b, _ := json.Marshal(struct {
		AttemptsMade           int    `json:"attemptsMade"`
		ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
		ErrorCode              string `json:"errorCode"`
		ErrorMessage           string `json:"errorMessage"`
		AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
		RawData                string `json:"rawData"`
		LambdaArn              string `json:"lambdaArn"`
	}{1, now, "Lambda.ProcessingFailedStatus", reason.Error(), now,
		base64.StdEncoding.EncodeToString(data), "plowline-local:pseudonymizer:" + name})
	return b
}
