package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/plowline/plowline/testkit"
)

// kinesaliteStream starts kinesalite, creates a stream and returns a client
// made by NewKinesisClient (so the production constructor is what talks to it).
func kinesaliteStream(t *testing.T, shards int) (*kinesis.Client, string, string) {
	t.Helper()
	url := testkit.Kinesalite(t)
	name := "s-" + strings.ReplaceAll(t.Name(), "/", "-")
	testkit.CreateStream(t, testkit.KinesisClient(url), name, shards)
	c, err := NewKinesisClient(context.Background(), "", url)
	if err != nil {
		t.Fatal(err)
	}
	return c, url, name
}

// recorder wraps a KinesisAPI, recording every call, and can make chosen
// entries fail the way Kinesis does under throttling: the entry is not
// written and its result carries an error code.
type recorder struct {
	next KinesisAPI

	mu    sync.Mutex
	calls []int          // records per call
	bytes []int          // bytes per call
	sent  map[string]int // data → times sent
	// fail decides, per entry, whether to reject it instead of sending it.
	fail func(data []byte, attempt int) bool
	// callErr, if set, fails whole calls.
	callErr func() error
	block   chan struct{} // if non-nil, calls wait until it is closed

	active, maxActive atomic.Int32 // calls in flight now / at most
}

func (r *recorder) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if n := r.active.Add(1); n > r.maxActive.Load() {
		r.maxActive.Store(n)
	}
	defer r.active.Add(-1)
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r.mu.Lock()
	if r.sent == nil {
		r.sent = map[string]int{}
	}
	n := 0
	for _, e := range in.Records {
		n += len(e.Data) + len(aws.ToString(e.PartitionKey))
	}
	r.calls = append(r.calls, len(in.Records))
	r.bytes = append(r.bytes, n)
	if r.callErr != nil {
		if err := r.callErr(); err != nil {
			r.mu.Unlock()
			return nil, err
		}
	}
	rejected := make([]bool, len(in.Records))
	var pass []types.PutRecordsRequestEntry
	for i, e := range in.Records {
		attempt := r.sent[string(e.Data)] + 1
		r.sent[string(e.Data)] = attempt
		if r.fail != nil && r.fail(e.Data, attempt) {
			rejected[i] = true
			continue
		}
		pass = append(pass, e)
	}
	r.mu.Unlock()

	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	var failedCount int32
	var real *kinesis.PutRecordsOutput
	if len(pass) > 0 {
		var err error
		real, err = r.next.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: in.StreamName, Records: pass}, opts...)
		if err != nil {
			return nil, err
		}
	}
	j := 0
	for i := range in.Records {
		if rejected[i] {
			out.Records[i] = types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("Rate exceeded for shard (injected)")}
			failedCount++
			continue
		}
		out.Records[i] = real.Records[j]
		if real.Records[j].ErrorCode != nil {
			failedCount++
		}
		j++
	}
	out.FailedRecordCount = aws.Int32(failedCount)
	return out, nil
}

func (r *recorder) snapshot() (calls, bytes []int, sent map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sent = make(map[string]int, len(r.sent))
	for k, v := range r.sent {
		sent[k] = v
	}
	return append([]int(nil), r.calls...), append([]int(nil), r.bytes...), sent
}

func countData(recs []testkit.StreamRecord) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[string(r.Data)]++
	}
	return m
}

// Order per partition key survives, calls respect the 500-record limit, and
// every record arrives exactly once.
func TestPutRecordsBatchesAndKeepsOrderPerKey(t *testing.T) {
	c, url, name := kinesaliteStream(t, 3)
	rec := &recorder{next: c}
	var recs []Record
	for i := 0; i < 1234; i++ {
		key := fmt.Sprintf("user-%d", i%7)
		if i%10 == 9 {
			key = "" // the sink picks a spreading key
		}
		recs = append(recs, Record{PartitionKey: key, Data: []byte(fmt.Sprintf("%s#%05d", key, i))})
	}
	failed, err := PutRecords(context.Background(), rec, name, recs, RetryPolicy{})
	if err != nil || len(failed) != 0 {
		t.Fatalf("PutRecords = %v, %v", failed, err)
	}
	calls, _, _ := rec.snapshot()
	if fmt.Sprint(calls) != "[500 500 234]" {
		t.Errorf("calls = %v, want [500 500 234]", calls)
	}
	got := testkit.ReadStream(t, testkit.KinesisClient(url), name)
	if len(got) != len(recs) {
		t.Fatalf("stream has %d records, want %d", len(got), len(recs))
	}
	lastByKey := map[string]string{}
	spread := map[string]bool{}
	for _, r := range got {
		d := string(r.Data)
		if strings.HasPrefix(d, "#") {
			spread[r.PartitionKey] = true
			continue
		}
		key := strings.SplitN(d, "#", 2)[0]
		if r.PartitionKey != key {
			t.Fatalf("record %q has partition key %q", d, r.PartitionKey)
		}
		if d <= lastByKey[key] {
			t.Fatalf("key %s: %q after %q — order per partition key lost", key, d, lastByKey[key])
		}
		lastByKey[key] = d
	}
	if len(spread) < 100 {
		t.Errorf("records without a key got %d distinct partition keys, want one each (123)", len(spread))
	}
}

// Calls stay under 5 MiB: large records split by bytes, not by count.
func TestPutRecordsSplitsByBytes(t *testing.T) {
	c, url, name := kinesaliteStream(t, 1)
	rec := &recorder{next: c}
	var recs []Record
	for i := 0; i < 6; i++ {
		recs = append(recs, Record{PartitionKey: "k", Data: append([]byte(fmt.Sprintf("%02d", i)), bytes.Repeat([]byte{'x'}, 900<<10)...)})
	}
	if failed, err := PutRecords(context.Background(), rec, name, recs, RetryPolicy{}); err != nil {
		t.Fatalf("PutRecords = %v, %v", failed, err)
	}
	calls, sizes, _ := rec.snapshot()
	total := 0
	for i, b := range sizes {
		if b > KinesisMaxBytesPerCall {
			t.Errorf("call %d carried %d bytes, over the 5 MiB limit", i, b)
		}
		total += calls[i]
	}
	if len(calls) != 2 || total != 6 {
		t.Errorf("calls = %v, want 2 calls (5+1 records of 900 KiB)", calls)
	}
	if got := testkit.ReadStream(t, testkit.KinesisClient(url), name); len(got) != 6 {
		t.Errorf("stream has %d records, want 6", len(got))
	}
}

// When Kinesis rejects some entries of a call, exactly those are sent again.
func TestPutRecordsRetriesExactlyTheFailedEntries(t *testing.T) {
	c, url, name := kinesaliteStream(t, 2)
	rec := &recorder{next: c, fail: func(d []byte, attempt int) bool {
		// Every 3rd record is throttled on its first two attempts.
		return d[len(d)-1]%3 == 0 && attempt <= 2
	}}
	var recs []Record
	for i := 0; i < 600; i++ {
		recs = append(recs, Record{PartitionKey: fmt.Sprint(i % 5), Data: []byte(fmt.Sprintf("r%04d-%c", i, byte(i%251)))})
	}
	failed, err := PutRecords(context.Background(), rec, name, recs, RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
	if err != nil || len(failed) != 0 {
		t.Fatalf("PutRecords = %v, %v", failed, err)
	}
	_, _, sent := rec.snapshot()
	for _, r := range recs {
		want := 1
		if r.Data[len(r.Data)-1]%3 == 0 {
			want = 3
		}
		if sent[string(r.Data)] != want {
			t.Fatalf("record %q sent %d times, want %d", r.Data, sent[string(r.Data)], want)
		}
	}
	in := countData(testkit.ReadStream(t, testkit.KinesisClient(url), name))
	for _, r := range recs {
		if in[string(r.Data)] != 1 {
			t.Fatalf("record %q is in the stream %d times, want 1", r.Data, in[string(r.Data)])
		}
	}
}

// Records that never get through come back as indices with the last error.
func TestPutRecordsReportsWhatNeverSucceeded(t *testing.T) {
	c, _, name := kinesaliteStream(t, 1)
	rec := &recorder{next: c, fail: func(d []byte, _ int) bool { return string(d) == "b" || string(d) == "d" }}
	recs := []Record{{Data: []byte("a")}, {Data: []byte("b")}, {Data: []byte("c")}, {Data: []byte("d")},
		{Data: bytes.Repeat([]byte{'x'}, KinesisMaxRecordBytes)}, {PartitionKey: strings.Repeat("k", 257), Data: []byte("e")}}
	failed, err := PutRecords(context.Background(), rec, name, recs, RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond})
	if fmt.Sprint(failed) != "[1 3 4 5]" {
		t.Errorf("failed = %v, want [1 3 4 5]", failed)
	}
	var perr *PutRecordsError
	if !errors.As(err, &perr) || perr.Failed != 4 || perr.Total != 6 || perr.Code != "ProvisionedThroughputExceededException" || perr.Attempts != 4 {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "4 of 6 records not written after 4 attempts") {
		t.Errorf("error %q does not say what failed", err)
	}
	_, _, sent := rec.snapshot()
	if sent["b"] != 4 || sent["a"] != 1 {
		t.Errorf("attempts: b=%d a=%d, want 4 and 1", sent["b"], sent["a"])
	}
}

// A missing stream is a request-level error: all records fail, with its code.
func TestPutRecordsToMissingStream(t *testing.T) {
	c, _, _ := kinesaliteStream(t, 1)
	failed, err := PutRecords(context.Background(), c, "no-such-stream", []Record{{Data: []byte("a")}, {Data: []byte("b")}},
		RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond})
	var perr *PutRecordsError
	if len(failed) != 2 || !errors.As(err, &perr) || perr.Code != "ResourceNotFoundException" {
		t.Fatalf("PutRecords = %v, %v", failed, err)
	}
}

func TestKinesisSinkBatchesByCountBytesAndTime(t *testing.T) {
	c, url, name := kinesaliteStream(t, 2)
	rec := &recorder{next: c}
	sink := NewKinesisSink(rec, name, KinesisSinkOptions{MaxBatchRecords: 100, MaxBatchBytes: 50_000, Linger: time.Hour, Concurrency: 1})
	ctx := context.Background()
	put := func(n, size int, tag string) {
		for i := 0; i < n; i++ {
			d := append([]byte(fmt.Sprintf("%s-%04d-", tag, i)), bytes.Repeat([]byte{'.'}, size)...)
			if err := sink.Put(ctx, []Record{{PartitionKey: tag, Data: d}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(250, 10, "count") // two full batches of 100 by count; 50 wait for Linger (an hour)
	waitFor(t, "two count-triggered flushes", func() bool { c, _, _ := rec.snapshot(); return len(c) >= 2 })
	time.Sleep(100 * time.Millisecond)
	calls, _, _ := rec.snapshot()
	if fmt.Sprint(calls) != "[100 100]" {
		t.Fatalf("calls = %v, want [100 100] with 50 records lingering", calls)
	}
	if n := sink.Pending(); n != 50 {
		t.Errorf("Pending = %d, want 50", n)
	}
	put(30, 2000, "bytes") // 50 small + 24 of ~2 KiB cross 50,000 bytes
	waitFor(t, "a byte-triggered flush", func() bool { c, _, _ := rec.snapshot(); return len(c) >= 3 })
	_, sizes, _ := rec.snapshot()
	if sizes[2] > 50_000 {
		t.Errorf("byte-triggered batch carried %d bytes, over MaxBatchBytes", sizes[2])
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := countData(testkit.ReadStream(t, testkit.KinesisClient(url), name))
	if len(got) != 280 {
		t.Errorf("stream has %d distinct records, want 280", len(got))
	}
	if used, _ := sink.Buffered(); used != 0 {
		t.Errorf("Buffered after Close = %d", used)
	}
	if err := sink.Put(ctx, []Record{{Data: []byte("late")}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}

	// Linger alone flushes a lone record.
	sink2 := NewKinesisSink(c, name, KinesisSinkOptions{Linger: 30 * time.Millisecond})
	defer sink2.Close(ctx)
	sink2.Put(ctx, []Record{{Data: []byte("lonely")}})
	waitFor(t, "a linger flush", func() bool { return sink2.Pending() == 0 })
}

// Several flushers send at once, yet records with the same key arrive in
// Put order: each key belongs to one flusher.
func TestKinesisSinkConcurrentFlushersKeepOrderPerKey(t *testing.T) {
	c, url, name := kinesaliteStream(t, 4)
	rec := &recorder{next: c}
	sink := NewKinesisSink(rec, name, KinesisSinkOptions{MaxBatchRecords: 50, Linger: 5 * time.Millisecond, Concurrency: 4})
	ctx := context.Background()
	const n = 4000
	for i := 0; i < n; i += 10 {
		var recs []Record
		for j := i; j < i+10; j++ {
			key := fmt.Sprintf("key-%02d", j%23)
			if j%17 == 0 {
				key = ""
			}
			recs = append(recs, Record{PartitionKey: key, Data: []byte(fmt.Sprintf("%s#%06d", key, j))})
		}
		for {
			err := sink.Put(ctx, recs)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrFull) {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := testkit.ReadStream(t, testkit.KinesisClient(url), name)
	if len(got) != n {
		t.Fatalf("stream has %d records, want %d", len(got), n)
	}
	last := map[string]string{}
	for _, r := range got {
		d := string(r.Data)
		key := strings.SplitN(d, "#", 2)[0]
		if key == "" {
			continue
		}
		if d <= last[key] {
			t.Fatalf("key %s: %q after %q — order per partition key lost", key, d, last[key])
		}
		last[key] = d
	}
	if m := rec.maxActive.Load(); m < 2 {
		t.Errorf("at most %d PutRecords calls in flight with Concurrency 4", m)
	}
}

func TestKinesisSinkErrFullThenDrains(t *testing.T) {
	c, url, name := kinesaliteStream(t, 1)
	rec := &recorder{next: c, block: make(chan struct{})}
	sink := NewKinesisSink(rec, name, KinesisSinkOptions{MaxBatchRecords: 10, Linger: time.Millisecond, BufferLimitBytes: 10_000})
	ctx := context.Background()
	accepted := 0
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		err := sink.Put(ctx, []Record{{PartitionKey: "k", Data: []byte(fmt.Sprintf("%099d", i))}})
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, ErrFull):
			full = err
		default:
			t.Fatal(err)
		}
	}
	if full == nil || accepted != 100 {
		t.Fatalf("accepted %d records of 100 bytes before ErrFull (limit 10,000 bytes), err %v", accepted, full)
	}
	if used, limit := sink.Buffered(); used != 10_000 || limit != 10_000 {
		t.Errorf("Buffered = %d/%d, want 10000/10000", used, limit)
	}
	if err := sink.Healthy(); err != nil {
		t.Errorf("a full but working sink reports unhealthy: %v", err)
	}
	close(rec.block)
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testkit.ReadStream(t, testkit.KinesisClient(url), name); len(got) != accepted {
		t.Errorf("stream has %d records, want the %d accepted", len(got), accepted)
	}
}

// While the stream fails, the sink keeps what it accepted, says it is
// unhealthy, and refuses new data after UnhealthyAfter; when the stream
// recovers everything accepted is written.
func TestKinesisSinkRidesOutAFailingStream(t *testing.T) {
	c, url, name := kinesaliteStream(t, 1)
	var down atomic.Bool
	rec := &recorder{next: c, callErr: func() error {
		if down.Load() {
			return errors.New("connection refused (injected)")
		}
		return nil
	}}
	var flushes, failedFlushes atomic.Int64
	sink := NewKinesisSink(rec, name, KinesisSinkOptions{Linger: 5 * time.Millisecond, UnhealthyAfter: 300 * time.Millisecond,
		Retry: RetryPolicy{MaxAttempts: 2, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
		OnFlush: func(r FlushResult) {
			flushes.Add(1)
			if r.Failed > 0 {
				failedFlushes.Add(1)
			}
		}})
	ctx := context.Background()
	down.Store(true)
	// One Put, so no scheduling stall can push part of it past UnhealthyAfter.
	var accepted []string
	var first []Record
	for i := 0; i < 20; i++ {
		d := fmt.Sprintf("during-%d", i)
		first = append(first, Record{Data: []byte(d)})
		accepted = append(accepted, d)
	}
	if err := sink.Put(ctx, first); err != nil {
		t.Fatalf("Put as the stream starts failing: %v", err)
	}
	waitFor(t, "Healthy to report the failure", func() bool { return sink.Healthy() != nil })
	if err := sink.Healthy(); !strings.Contains(err.Error(), "injected") {
		t.Errorf("Healthy = %v, want the cause", err)
	}
	var refused error
	waitFor(t, "Put to refuse after UnhealthyAfter", func() bool {
		d := fmt.Sprintf("probe-%d", len(accepted))
		refused = sink.Put(ctx, []Record{{Data: []byte(d)}})
		if refused == nil {
			accepted = append(accepted, d)
		}
		return refused != nil
	})
	if !errors.Is(refused, ErrUnhealthy) {
		t.Fatalf("Put on a dead stream = %v, want ErrUnhealthy", refused)
	}
	// Close with a short deadline while down: says how many are lost.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := sink.Flush(short); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d records", len(accepted))) {
		t.Errorf("Flush while down = %v, want it to name %d records", err, len(accepted))
	}
	down.Store(false)
	waitFor(t, "recovery", func() bool { return sink.Healthy() == nil })
	if err := sink.Put(ctx, []Record{{Data: []byte("after")}}); err != nil {
		t.Fatalf("Put after recovery: %v", err)
	}
	accepted = append(accepted, "after")
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := countData(testkit.ReadStream(t, testkit.KinesisClient(url), name))
	for _, d := range accepted {
		if got[d] != 1 {
			t.Errorf("accepted record %q is in the stream %d times, want 1", d, got[d])
		}
	}
	if failedFlushes.Load() == 0 || flushes.Load() <= failedFlushes.Load() {
		t.Errorf("OnFlush saw %d flushes, %d failed", flushes.Load(), failedFlushes.Load())
	}
}

func TestKinesisSinkCloseGivesUpNamingTheCount(t *testing.T) {
	rec := &recorder{callErr: func() error { return errors.New("stream gone") }}
	sink := NewKinesisSink(rec, "nowhere", KinesisSinkOptions{Linger: time.Millisecond, Retry: RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}})
	if err := sink.Put(context.Background(), []Record{{Data: []byte("a")}, {Data: []byte("b")}, {Data: []byte("c")}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first failed write", func() bool { return sink.Healthy() != nil })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := sink.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 records") || !strings.Contains(err.Error(), "stream gone") {
		t.Fatalf("Close = %v, want it to name 3 records and the cause", err)
	}
}

func TestKinesisSinkRefusesRecordsKinesisNeverTakes(t *testing.T) {
	sink := NewKinesisSink(&recorder{}, "s", KinesisSinkOptions{})
	defer sink.Close(context.Background())
	err := sink.Put(context.Background(), []Record{{Data: []byte("ok")}, {Data: make([]byte, KinesisMaxRecordBytes+1)}})
	if err == nil || !strings.Contains(err.Error(), "record 1 of 2") || errors.Is(err, ErrFull) {
		t.Fatalf("Put of an oversized record = %v", err)
	}
	if sink.Pending() != 0 {
		t.Error("Put kept part of a refused call")
	}
}

// Kill kinesalite mid-load: every record Put acknowledged is in the stream
// once it is back (kinesalite persists to disk, so the stream survives).
func TestKinesisSinkSurvivesKinesaliteKill(t *testing.T) {
	k := testkit.KinesaliteProcess(t)
	name := "raw-good"
	testkit.CreateStream(t, testkit.KinesisClient(k.URL), name, 2)
	c, err := NewKinesisClient(context.Background(), "", k.URL)
	if err != nil {
		t.Fatal(err)
	}
	sink := NewKinesisSink(c, name, KinesisSinkOptions{Linger: 10 * time.Millisecond, UnhealthyAfter: time.Hour,
		Retry: RetryPolicy{MaxAttempts: 2, BaseDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
	ctx := context.Background()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				d := fmt.Sprintf("g%d-%06d", g, i)
				if err := sink.Put(ctx, []Record{{PartitionKey: fmt.Sprint(g), Data: []byte(d)}}); err == nil {
					mu.Lock()
					acked = append(acked, d)
					mu.Unlock()
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	k.Kill()
	waitFor(t, "the sink to notice", func() bool { return sink.Healthy() != nil })
	time.Sleep(300 * time.Millisecond)
	k.Start()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sink.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	got := countData(testkit.ReadStream(t, testkit.KinesisClient(k.URL), name))
	dups := 0
	for _, d := range acked {
		switch n := got[d]; {
		case n == 0:
			t.Fatalf("acknowledged record %s is not in the stream (%d acknowledged, %d in stream)", d, len(acked), len(got))
		case n > 1:
			dups++
		}
	}
	t.Logf("%d records acknowledged across a kinesalite kill, all in the stream; %d duplicated (at-least-once)", len(acked), dups)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
