package enrichfn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/event"
	"github.com/plowline/plowline/pipeline/stream"
)

// EnrichHandler serves the enricher as a Lambda function with a Kinesis
// event source (the raw stream) configured with ReportBatchItemFailures.
// Each record's good events and bad rows are written to the enriched good
// and bad streams with PutRecords (partial failures retried); a record
// whose outputs could not all be written is reported in batchItemFailures.
//
// Kinesis event sources checkpoint at the lowest reported sequence number:
// that record and every later one of the shard batch are delivered again,
// so outputs of later records that were written will be written twice
// (at least once, as everywhere in the pipeline; event_id and
// event_fingerprint identify the duplicates). Records before it are never
// retried, so nothing is lost. The handler reports exactly the records
// with unwritten outputs, and returns an error only when it could not even
// try (which makes Lambda retry the whole batch).
type EnrichHandler struct {
	Enricher   *enrich.Enricher
	API        stream.KinesisAPI
	GoodStream string
	BadStream  string
	Policy     stream.RetryPolicy
	// Function names the function in EMF dimensions.
	Function string
	// EMF receives one line of CloudWatch Embedded Metric Format per
	// invocation (stdout in Lambda); nil disables it.
	EMF io.Writer
	Log *slog.Logger
}

// output is one record written to an output stream, and the input record it came from.
type output struct {
	rec   stream.Record
	input int
}

// Handle processes one Kinesis batch.
func (h *EnrichHandler) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	start := time.Now()
	var good, bad []output
	var m emfCounts
	m.badByType = map[string]int{}
	p := h.Enricher.Processor()
	for i, r := range ev.Records {
		out := h.Enricher.Enrich(ctx, r.Kinesis.Data)
		m.payloads++
		m.validation = append(m.validation, out.Validation.Seconds())
		m.enrichment = append(m.enrichment, out.Enrichment.Seconds())
		for _, line := range out.Good {
			if len(line)+36 > stream.KinesisMaxRecordBytes {
				// Kinesis would refuse it on every retry: a poison record.
				b := badrow.NewSizeViolation(p, time.Now(), stream.KinesisMaxRecordBytes, len(line),
					"an enriched event under the Kinesis record limit", string(line[:min(len(line), 10000)]))
				bad = append(bad, output{stream.Record{Data: b.Marshal()}, i})
				m.bad++
				m.badByType[badrow.TypeOf(b.Schema)]++
				continue
			}
			id, _ := event.FieldOfBytes(line, event.EventID)
			good = append(good, output{stream.Record{PartitionKey: string(id), Data: line}, i})
			m.good++
		}
		for j, line := range out.Bad {
			m.bad++
			m.badByType[out.BadTypes[j]]++
			if len(line)+32 > stream.KinesisMaxRecordBytes {
				b := badrow.NewSizeViolation(p, time.Now(), stream.KinesisMaxRecordBytes, len(line),
					"a bad row under the Kinesis record limit", string(line[:min(len(line), 10000)]))
				line = b.Marshal()
			}
			bad = append(bad, output{stream.Record{Data: line}, i})
		}
	}

	failed := make([]bool, len(ev.Records))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, o := range []struct {
		name string
		outs []output
	}{{h.GoodStream, good}, {h.BadStream, bad}} {
		if len(o.outs) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := make([]stream.Record, len(o.outs))
			for i, x := range o.outs {
				recs[i] = x.rec
			}
			idx, err := stream.PutRecords(ctx, h.API, o.name, recs, h.Policy)
			if err != nil && h.Log != nil {
				h.Log.Error("writing enriched records", "stream", o.name, "unwritten", len(idx), "err", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range idx {
				failed[o.outs[k].input] = true
			}
		}()
	}
	wg.Wait()

	resp := events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: ev.Records[i].Kinesis.SequenceNumber})
			m.failedRecords++
		}
	}
	m.duration = time.Since(start).Seconds()
	if h.EMF != nil {
		if err := writeEnrichEMF(h.EMF, h.Function, time.Now(), m); err != nil && h.Log != nil {
			h.Log.Error("writing EMF metrics", "err", err)
		}
	}
	if h.Log != nil {
		h.Log.Info("batch enriched", "records", len(ev.Records), "good", m.good, "bad", m.bad, "failed_records", m.failedRecords)
	}
	return resp, nil
}

// String describes the handler's wiring for logs.
func (h *EnrichHandler) String() string {
	return fmt.Sprintf("enrich lambda: good stream %q, bad stream %q", h.GoodStream, h.BadStream)
}
