package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/pseudonymize"
)

// Firehose transformation results (the values Firehose accepts).
const (
	FirehoseOk               = events.KinesisFirehoseTransformedStateOk
	FirehoseProcessingFailed = events.KinesisFirehoseTransformedStateProcessingFailed
)

// Metric label values of plowline_pseudonymizer_records_total's result.
const (
	ResultOk               = "ok"
	ResultProcessingFailed = "processing_failed"
)

// FirehoseResponse is the transformation response. It mirrors
// events.KinesisFirehoseResponse but leaves metadata out of records that have
// none, instead of sending an empty otfMetadata (meant for Iceberg
// destinations) with every record.
type FirehoseResponse struct {
	Records []FirehoseRecord `json:"records"`
}

// FirehoseRecord is one transformed record.
type FirehoseRecord struct {
	RecordID string            `json:"recordId"`
	Result   string            `json:"result"`
	Data     []byte            `json:"data"`
	Metadata *FirehoseMetadata `json:"metadata,omitempty"`
}

// FirehoseMetadata carries the dynamic-partitioning keys of an Ok record.
type FirehoseMetadata struct {
	PartitionKeys map[string]string `json:"partitionKeys"`
}

// Pseudonymize is the Firehose data-transformation Lambda of every delivery
// stream (enriched-good, enriched-bad, raw-bad): each record's lines are
// pseudonymized and come back Ok with partition keys, or the record comes
// back ProcessingFailed with its original data so Firehose writes it to its
// processing-failed prefix. No record is ever Dropped, and no record is
// passed through unpseudonymized: without a key the invocation fails.
type Pseudonymize struct {
	// Load builds the pseudonymizer (reads the key). It is called on the
	// first invocation and again after a failure; its result is cached.
	Load func(ctx context.Context) (*pseudonymize.Pseudonymizer, error)
	// Logger receives failures: record id and reason, never content.
	Logger *slog.Logger
	// EMF, if set, receives one CloudWatch Embedded Metric Format document
	// per result per invocation (Lambda mode: stdout).
	EMF io.Writer
	// Function names the function in EMF dimensions.
	Function string
	// Now returns the time for EMF timestamps (tests); default time.Now.
	Now func() time.Time

	mu sync.Mutex
	p  *pseudonymize.Pseudonymizer

	ok, failed atomic.Int64
}

// Counts returns the records transformed Ok and ProcessingFailed since start.
func (h *Pseudonymize) Counts() (ok, processingFailed int64) { return h.ok.Load(), h.failed.Load() }

// Init builds the pseudonymizer now (reading the key) instead of on the
// first invocation; invocations retry while it fails.
func (h *Pseudonymize) Init(ctx context.Context) error {
	_, err := h.pseudonymizer(ctx)
	return err
}

func (h *Pseudonymize) pseudonymizer(ctx context.Context) (*pseudonymize.Pseudonymizer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p != nil {
		return h.p, nil
	}
	if h.Load == nil {
		return nil, errors.New("pseudonymize lambda: no pseudonymizer configured")
	}
	p, err := h.Load(ctx)
	if err != nil {
		return nil, err
	}
	h.p = p
	return p, nil
}

// StreamName returns the delivery stream's name from its ARN
// (arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME), the metrics' stream label.
func StreamName(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	if arn == "" {
		return "unknown"
	}
	return arn
}

// Handle transforms one Firehose batch.
func (h *Pseudonymize) Handle(ctx context.Context, ev events.KinesisFirehoseEvent) (*FirehoseResponse, error) {
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stream := StreamName(ev.DeliveryStreamArn)
	p, err := h.pseudonymizer(ctx)
	if err != nil {
		// Never pass data through: fail the whole invocation; Firehose
		// retries it and then sends the records to its error prefix.
		log.Error("pseudonymizer unavailable; failing the invocation", "stream", stream, "records", len(ev.Records), "reason", err.Error())
		return nil, fmt.Errorf("pseudonymizer unavailable: %w", err)
	}
	resp := &FirehoseResponse{Records: make([]FirehoseRecord, len(ev.Records))}
	var ok, failed int
	for i := range ev.Records {
		rec := &ev.Records[i]
		out, keys, err := transformRecord(p, rec)
		if err != nil {
			failed++
			log.Warn("record processing failed", "record_id", rec.RecordID, "stream", stream, "reason", err.Error())
			resp.Records[i] = FirehoseRecord{RecordID: rec.RecordID, Result: FirehoseProcessingFailed, Data: rec.Data}
			continue
		}
		ok++
		resp.Records[i] = FirehoseRecord{RecordID: rec.RecordID, Result: FirehoseOk, Data: out, Metadata: &FirehoseMetadata{PartitionKeys: keys}}
		// The input is no longer needed; let a large batch's memory go.
		rec.Data = nil
	}
	h.ok.Add(int64(ok))
	h.failed.Add(int64(failed))
	if h.EMF != nil {
		now := time.Now
		if h.Now != nil {
			now = h.Now
		}
		if err := writePseudonymizeEMF(h.EMF, h.Function, stream, now(), ok, failed); err != nil {
			log.Error("writing EMF metrics", "reason", err.Error())
		}
	}
	return resp, nil
}

// transformRecord pseudonymizes every line of one record; the partition
// keys are those of its first line.
func transformRecord(p *pseudonymize.Pseudonymizer, rec *events.KinesisFirehoseEventRecord) ([]byte, map[string]string, error) {
	data := rec.Data
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errors.New("empty record")
	}
	arrival := rec.ApproximateArrivalTimestamp.Time
	out := make([]byte, 0, len(data)+len(data)/2)
	var keys map[string]string
	for n := 1; len(data) > 0; n++ {
		line := data
		if j := bytes.IndexByte(data, '\n'); j >= 0 {
			line, data = data[:j], data[j+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var err error
		if out, err = p.Transform(out, line); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, '\n')
		if keys == nil {
			keys = pseudonymize.PartitionKeysAt(line, arrival)
		}
	}
	return out, keys, nil
}

// writePseudonymizeEMF writes plowline_pseudonymizer_records_total for both
// results, under the dimensions function, stream and result.
func writePseudonymizeEMF(w io.Writer, function, stream string, at time.Time, ok, failed int) error {
	var buf bytes.Buffer
	for _, r := range []struct {
		result string
		n      int
	}{{ResultOk, ok}, {ResultProcessingFailed, failed}} {
		doc := map[string]any{
			"_aws": map[string]any{
				"Timestamp": at.UnixMilli(),
				"CloudWatchMetrics": []any{map[string]any{
					"Namespace":  "plowline",
					"Dimensions": [][]string{{metricname.LabelFunction, metricname.LabelStream, metricname.LabelResult}},
					"Metrics":    []any{map[string]string{"Name": metricname.PseudonymizerRecords.Name, "Unit": "Count"}},
				}},
			},
			metricname.LabelFunction:             function,
			metricname.LabelStream:               stream,
			metricname.LabelResult:               r.result,
			metricname.PseudonymizerRecords.Name: r.n,
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}
