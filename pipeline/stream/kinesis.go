package stream

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// Kinesis service limits that shape batching (Kinesis Data Streams quotas).
const (
	// KinesisMaxRecordsPerCall is the most records one PutRecords call takes.
	KinesisMaxRecordsPerCall = 500
	// KinesisMaxBytesPerCall is the most bytes (data plus partition keys)
	// one PutRecords call takes.
	KinesisMaxBytesPerCall = 5 << 20
	// KinesisMaxRecordBytes is the largest record (data plus partition key)
	// a stream accepts by default. The collector turns anything bigger into
	// a size_violation bad row before it reaches the sink.
	KinesisMaxRecordBytes = 1 << 20
	// KinesisMaxPartitionKeyChars is the longest partition key, in Unicode
	// characters.
	KinesisMaxPartitionKeyChars = 256
)

// KinesisAPI is the part of *kinesis.Client the Kinesis sink uses; tests
// wrap a real client to inject failures.
type KinesisAPI interface {
	PutRecords(ctx context.Context, params *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// NewKinesisClient returns a Kinesis client configured from the usual AWS
// sources (environment, shared config, IMDS, …). region "" keeps the region
// the configuration resolves. endpoint "" means AWS itself; otherwise every
// request goes to endpoint (kinesalite, kinesis-local, a VPC endpoint).
//
// The client speaks the awsJson1_1 protocol (what this SDK version uses for
// Kinesis; no CBOR), which kinesalite understands. For a loopback endpoint
// (127.0.0.1, ::1, localhost) — always a local emulator — the client does
// not go looking for credentials on the network (IMDS): unless
// AWS_ACCESS_KEY_ID is set it signs with fixed placeholder credentials, which
// emulators accept, and the region defaults to us-east-1.
func NewKinesisClient(ctx context.Context, region, endpoint string) (*kinesis.Client, error) {
	var opts []func(*config.LoadOptions) error
	local := false
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("kinesis endpoint %q: want an absolute URL such as http://127.0.0.1:4567", endpoint)
		}
		local = isLoopbackHost(u.Hostname())
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if local {
		if region == "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion("us-east-1"))
		}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
			opts = append(opts, config.WithCredentialsProvider(
				credentials.NewStaticCredentialsProvider("plowline-local", "plowline-local", "")))
		}
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration for Kinesis: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("kinesis: no AWS region configured; set --kinesis.region or AWS_REGION")
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// RetryPolicy says how often and how patiently records that Kinesis
// rejected are sent again. Delays grow exponentially from BaseDelay to
// MaxDelay with full jitter, so many writers throttled together do not
// retry in lockstep.
type RetryPolicy struct {
	// MaxAttempts is the number of PutRecords attempts per record, the
	// first included (default 5).
	MaxAttempts int
	// BaseDelay is the delay before the first retry (default 100ms).
	BaseDelay time.Duration
	// MaxDelay caps the delay between attempts (default 5s).
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 5
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 100 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 5 * time.Second
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	return p
}

// backoff returns the jittered delay before retry n (n ≥ 1).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	// Full jitter over [d/2, d]: never zero, so a throttled shard gets air.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// recordSize is what a record counts against Kinesis's size limits; an
// empty partition key counts as the spreading key it will get.
func recordSize(r Record) int {
	if r.PartitionKey == "" {
		return len(r.Data) + spreadingKeyLen
	}
	return len(r.Data) + len(r.PartitionKey)
}

// spreadingKeyLen is the length of the keys spreadingKey makes.
const spreadingKeyLen = 32

// checkRecord reports why Kinesis would refuse the record outright.
func checkRecord(r Record) error {
	if n := recordSize(r); n > KinesisMaxRecordBytes {
		return fmt.Errorf("record of %d bytes exceeds the Kinesis limit of %d bytes", n, KinesisMaxRecordBytes)
	}
	if n := utf8.RuneCountInString(r.PartitionKey); n > KinesisMaxPartitionKeyChars {
		return fmt.Errorf("partition key of %d characters exceeds the Kinesis limit of %d", n, KinesisMaxPartitionKeyChars)
	}
	return nil
}

// spreadingKey returns a random 128-bit hex key: records without a
// partition key land on shards uniformly.
func spreadingKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// PutRecordsError says which records PutRecords could not write and why.
type PutRecordsError struct {
	Stream   string
	Failed   int // records never written
	Total    int // records passed in
	Attempts int // most attempts any record got
	// Code and Message are the last error Kinesis (or the transport) gave.
	Code, Message string
	// Err is the last request-level error, if any (context, network, API).
	Err error
}

// Error says how many records were not written and why the retries stopped.
func (e *PutRecordsError) Error() string {
	msg := fmt.Sprintf("kinesis PutRecords to stream %q: %d of %d records not written after %d attempts", e.Stream, e.Failed, e.Total, e.Attempts)
	switch {
	case e.Code != "" && e.Err != nil && (errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded)):
		msg += fmt.Sprintf(": last error %s: %s; then %v", e.Code, e.Message, e.Err)
	case e.Code != "" || e.Message != "":
		msg += fmt.Sprintf(": last error %s: %s", e.Code, e.Message)
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the last request-level error (so errors.Is(err,
// context.DeadlineExceeded) works).
func (e *PutRecordsError) Unwrap() error { return e.Err }

// nonRetryable API error codes: sending the same request again cannot help.
var nonRetryable = map[string]bool{
	"ResourceNotFoundException":   false, // a stream being (re)created becomes available: retry
	"ValidationException":         true,
	"InvalidArgumentException":    true,
	"AccessDeniedException":       true,
	"UnrecognizedClientException": true,
	"InvalidSignatureException":   true,
	"KMSAccessDeniedException":    true,
	"KMSDisabledException":        true,
	"KMSNotFoundException":        true,
	"KMSInvalidStateException":    true,
	"KMSOptInRequired":            true,
}

// PutRecords writes recs to the stream synchronously. It splits them into
// calls of at most 500 records and 5 MiB, and when Kinesis rejects some
// entries of a call (ProvisionedThroughputExceeded, InternalFailure) it
// sends exactly those again, with jittered exponential backoff, up to
// p.MaxAttempts. Request-level failures (network, throttling of the whole
// call) retry the whole call the same way; errors retrying cannot fix
// (validation, access denied) stop at once. Records with an empty partition
// key get a random one. Records Kinesis would refuse outright (over 1 MiB,
// partition key over 256 characters) are not sent.
//
// It returns the indices into recs of the records that were never written,
// in increasing order, and a *PutRecordsError describing the last failure;
// nil, nil means every record is in the stream. Records are written
// at least once: a call that timed out may have been applied. The SDK's own
// retries are switched off for these calls: p is the only retry policy.
func PutRecords(ctx context.Context, api KinesisAPI, streamName string, recs []Record, p RetryPolicy) (failed []int, err error) {
	return putRecords(ctx, api, streamName, recs, p, nil)
}

// putRecords is PutRecords with a callback after every round of calls:
// failed is how many records that round left unwritten, err why.
func putRecords(ctx context.Context, api KinesisAPI, streamName string, recs []Record, p RetryPolicy, onRound func(failed int, err error)) (failed []int, err error) {
	p = p.withDefaults()
	perr := &PutRecordsError{Stream: streamName, Total: len(recs)}
	entries := make([]types.PutRecordsRequestEntry, len(recs))
	pending := make([]int, 0, len(recs))
	for i, r := range recs {
		if cerr := checkRecord(r); cerr != nil {
			failed = append(failed, i)
			perr.Code, perr.Message = "RecordRejected", fmt.Sprintf("record %d: %v", i, cerr)
			continue
		}
		key := r.PartitionKey
		if key == "" {
			key = spreadingKey()
		}
		entries[i] = types.PutRecordsRequestEntry{Data: r.Data, PartitionKey: aws.String(key)}
		pending = append(pending, i)
	}

	for attempt := 1; len(pending) > 0; attempt++ {
		perr.Attempts = attempt
		if attempt > 1 {
			if !sleep(ctx, p.backoff(attempt-1)) {
				perr.Err = ctx.Err()
				break
			}
		}
		var retry []int
		stop := false
		for start := 0; start < len(pending); {
			end := batchEnd(pending[start:], func(i int) int { return recordSize(recs[i]) }) + start
			idx := pending[start:end]
			start = end
			if stop {
				retry = append(retry, idx...)
				continue
			}
			in := &kinesis.PutRecordsInput{StreamName: aws.String(streamName), Records: make([]types.PutRecordsRequestEntry, len(idx))}
			for j, i := range idx {
				in.Records[j] = entries[i]
			}
			out, cerr := api.PutRecords(ctx, in, noSDKRetries)
			if cerr != nil {
				retry = append(retry, idx...)
				perr.Err = cerr
				perr.Code, perr.Message = "", ""
				var ae smithy.APIError
				if errors.As(cerr, &ae) {
					perr.Code, perr.Message = ae.ErrorCode(), ae.ErrorMessage()
					if nonRetryable[ae.ErrorCode()] {
						stop = true
						attempt = p.MaxAttempts
					}
				}
				if ctx.Err() != nil {
					stop = true
					attempt = p.MaxAttempts
				}
				continue
			}
			if out.FailedRecordCount == nil || *out.FailedRecordCount == 0 {
				continue
			}
			if len(out.Records) != len(idx) {
				// A malformed answer: we cannot tell which were written, so
				// all are retried (at-least-once).
				retry = append(retry, idx...)
				perr.Code, perr.Message = "MalformedResponse", fmt.Sprintf("%d result entries for %d records", len(out.Records), len(idx))
				continue
			}
			for j, res := range out.Records {
				if res.ErrorCode != nil {
					retry = append(retry, idx[j])
					perr.Code, perr.Message = aws.ToString(res.ErrorCode), aws.ToString(res.ErrorMessage)
					perr.Err = nil
				}
			}
		}
		pending = retry
		if onRound != nil {
			if len(retry) == 0 {
				onRound(0, nil)
			} else {
				round := *perr
				round.Failed, round.Total = len(retry), len(recs)
				onRound(len(retry), &round)
			}
		}
		if attempt >= p.MaxAttempts {
			break
		}
	}
	if len(pending) == 0 && len(failed) == 0 {
		return nil, nil
	}
	failed = append(failed, pending...)
	slices.Sort(failed)
	perr.Failed = len(failed)
	return failed, perr
}

// noSDKRetries switches off the SDK's own retryer for PutRecords calls:
// RetryPolicy is the only retry layer, so its timing is what happens (the
// SDK's would multiply the attempts and hide a dead endpoint for seconds).
func noSDKRetries(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

// batchEnd returns how many of idx fit in one PutRecords call.
func batchEnd(idx []int, size func(int) int) int {
	bytes := 0
	for n, i := range idx {
		s := size(i)
		if n == KinesisMaxRecordsPerCall || (n > 0 && bytes+s > KinesisMaxBytesPerCall) {
			return n
		}
		bytes += s
	}
	return len(idx)
}

// sleep waits d or until ctx ends; it reports whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
