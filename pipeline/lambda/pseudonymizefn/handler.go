package pseudonymizefn

import (
	"bytes"
	"context"
	"encoding/base64"
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

// MaxResponseBytes is the Lambda limit on a synchronous response (6 MB).
// Pseudonyms are 64 hex characters, so a response is larger than its
// request; Firehose's processor buffer (BufferSizeInMBs, at most 3) must
// leave room for that.
const MaxResponseBytes = 6 << 20

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

// Handle transforms one Firehose batch and returns the response as values
// (for in-process callers and tests).
func (h *Pseudonymize) Handle(ctx context.Context, ev events.KinesisFirehoseEvent) (*FirehoseResponse, error) {
	resp := &FirehoseResponse{Records: make([]FirehoseRecord, 0, len(ev.Records))}
	err := h.transform(ctx, &ev, func(id, result string, data []byte, keys map[string]string) {
		r := FirehoseRecord{RecordID: id, Result: result, Data: bytes.Clone(data)}
		if keys != nil {
			r.Metadata = &FirehoseMetadata{PartitionKeys: keys}
		}
		resp.Records = append(resp.Records, r)
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// HandleJSON transforms one Firehose batch and returns the response already
// encoded as JSON: each record is base64-encoded straight into one buffer as
// it is pseudonymized, so a 6 MB batch never holds its pseudonymized records
// twice (as values and again as JSON). The Lambda runtime streams an
// io.Reader response as is.
func (h *Pseudonymize) HandleJSON(ctx context.Context, ev events.KinesisFirehoseEvent) (io.Reader, error) {
	b, err := h.encode(ctx, &ev)
	if err != nil {
		return nil, err
	}
	return &firehoseJSONResponse{bytes.NewReader(b)}, nil
}

// Invoke implements aws-lambda-go's lambda.Handler: the raw request in, the
// raw response out. Decoding the request with json.Unmarshal rather than
// the runtime's json.Decoder spares a second copy of a 6 MB request.
func (h *Pseudonymize) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.KinesisFirehoseEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("decoding the Firehose transformation event: %s", firehoseJSONReason(err))
	}
	return h.encode(ctx, &ev)
}

// firehoseJSONReason describes a JSON decoding error without quoting input.
func firehoseJSONReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s where %s expected at %s", te.Value, te.Type, te.Field)
	}
	return "invalid JSON"
}

func (h *Pseudonymize) encode(ctx context.Context, ev *events.KinesisFirehoseEvent) ([]byte, error) {
	// Pseudonymized records are larger than the originals; start near the
	// expected size (untouched capacity costs no resident memory).
	var in int
	for i := range ev.Records {
		in += len(ev.Records[i].Data)
	}
	buf := make([]byte, 0, 64+in*5/2+len(ev.Records)*160)
	buf = append(buf, `{"records":[`...)
	first := true
	err := h.transform(ctx, ev, func(id, result string, data []byte, keys map[string]string) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, `{"recordId":`...)
		buf = firehoseAppendJSONString(buf, id)
		buf = append(buf, `,"result":"`...)
		buf = append(buf, result...)
		buf = append(buf, `","data":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, data)
		buf = append(buf, '"')
		if keys != nil {
			buf = append(buf, `,"metadata":{"partitionKeys":{`...)
			for i, k := range []string{pseudonymize.KeyCollectorDate, pseudonymize.KeyCollectorHour} {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = firehoseAppendJSONString(buf, k)
				buf = append(buf, ':')
				buf = firehoseAppendJSONString(buf, keys[k])
			}
			buf = append(buf, `}}`...)
		}
		buf = append(buf, '}')
	})
	if err != nil {
		return nil, err
	}
	return append(buf, `]}`...), nil
}

// firehoseJSONResponse is an already-encoded response. It has no exported fields,
// so aws-lambda-go's encoder renders it as {} and then sends the reader's
// bytes instead.
type firehoseJSONResponse struct{ r *bytes.Reader }

func (j *firehoseJSONResponse) Read(p []byte) (int, error) { return j.r.Read(p) }

func firehoseAppendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// transform pseudonymizes every record of ev and hands each result to emit
// in order; data passed to emit is valid only during the call.
func (h *Pseudonymize) transform(ctx context.Context, ev *events.KinesisFirehoseEvent, emit func(id, result string, data []byte, keys map[string]string)) error {
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
		return fmt.Errorf("pseudonymizer unavailable: %w", err)
	}
	var ok, failed int
	size := 16 // {"records":[]}
	var scratch []byte
	for i := range ev.Records {
		rec := &ev.Records[i]
		var keys map[string]string
		scratch, keys, err = firehoseTransformRecord(p, scratch[:0], rec)
		if err != nil {
			failed++
			log.Warn("record processing failed", "record_id", rec.RecordID, "stream", stream, "reason", err.Error())
			emit(rec.RecordID, FirehoseProcessingFailed, rec.Data, nil)
			size += base64.StdEncoding.EncodedLen(len(rec.Data)) + len(rec.RecordID) + 64
			continue
		}
		ok++
		emit(rec.RecordID, FirehoseOk, scratch, keys)
		size += base64.StdEncoding.EncodedLen(len(scratch)) + len(rec.RecordID) + 128
		// The input is no longer needed; let a large batch's memory go.
		rec.Data = nil
	}
	if size > MaxResponseBytes {
		// Lambda would refuse the response anyway (Function.ResponseSizeTooLarge);
		// say why and what to change.
		log.Error("response over the Lambda limit; lower the Firehose processor buffer size (BufferSizeInMBs)",
			"stream", stream, "records", len(ev.Records), "response_bytes", size, "limit_bytes", MaxResponseBytes)
		return fmt.Errorf("pseudonymized batch would be a %d-byte response, over the %d-byte Lambda limit: lower the Firehose processor's BufferSizeInMBs (pseudonyms make records larger)", size, MaxResponseBytes)
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
	return nil
}

// firehoseTransformRecord appends the pseudonymized lines of one record to out;
// the partition keys are those of its first line.
func firehoseTransformRecord(p *pseudonymize.Pseudonymizer, out []byte, rec *events.KinesisFirehoseEventRecord) ([]byte, map[string]string, error) {
	data := rec.Data
	if len(bytes.TrimSpace(data)) == 0 {
		return out, nil, errors.New("empty record")
	}
	arrival := rec.ApproximateArrivalTimestamp.Time
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
			return out, nil, fmt.Errorf("line %d: %w", n, err)
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
