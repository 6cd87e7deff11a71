package stream

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

type bufCloser struct {
	bytes.Buffer
	closed bool
}

func (b *bufCloser) Close() error { b.closed = true; return nil }

func TestFileSinkRoundTripThroughLineSource(t *testing.T) {
	ctx := context.Background()
	var out bufCloser
	sink := NewFileSink(&out)
	var want [][]byte
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				// Binary data with newlines and every byte value, so a
				// sink that does not encode would break lines.
				d := []byte(fmt.Sprintf("g%d-i%d\n\x00\xff", g, i))
				d = append(d, bytes.Repeat([]byte{byte(i)}, i*7)...)
				if err := sink.Put(ctx, []Record{{Data: d, PartitionKey: "k"}}); err != nil {
					t.Error(err)
				}
				mu.Lock()
				want = append(want, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !out.closed {
		t.Error("Close did not close the writer")
	}
	if err := sink.Put(ctx, []Record{{Data: []byte("x")}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if _, err := base64.StdEncoding.DecodeString(l); err != nil {
			t.Fatalf("line %d is not standard base64: %q", i+1, l)
		}
	}
	got := readAll(t, NewLineSource(strings.NewReader(out.String())), 7)
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Data)]++
	}
	for _, w := range want {
		if seen[string(w)] != 1 {
			t.Errorf("record %q read %d times, want once", w, seen[string(w)])
		}
	}
	if len(got) != len(want) {
		t.Errorf("read %d records, want %d", len(got), len(want))
	}
}

func readAll(t *testing.T, src *LineSource, max int) []Record {
	t.Helper()
	var all []Record
	for {
		recs, err := src.Read(context.Background(), max)
		if errors.Is(err, ErrClosed) {
			return all
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(recs) == 0 || len(recs) > max {
			t.Fatalf("Read returned %d records (max %d) and no error", len(recs), max)
		}
		all = append(all, recs...)
	}
}

func TestLineSourceReportsBadLinesAndContinues(t *testing.T) {
	in := "YQ==\r\n\nYg\nnot base64!\nYw==\n" + strings.Repeat("A", MaxLineBytes+10) + "\nZA==" // no final newline
	src := NewLineSource(strings.NewReader(in))
	ctx := context.Background()
	var got []string
	var bad []int
	for {
		recs, err := src.Read(ctx, 100)
		if errors.Is(err, ErrClosed) {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			bad = append(bad, le.Line)
			if !strings.Contains(le.Error(), fmt.Sprintf("line %d", le.Line)) {
				t.Errorf("error %q does not name the line", le)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
	}
	if strings.Join(got, ",") != "a,b,c,d" {
		t.Errorf("records = %q, want a,b,c,d", got)
	}
	if fmt.Sprint(bad) != "[4 6]" {
		t.Errorf("bad lines = %v, want [4 6]", bad)
	}
}

// A source on a pipe must hand over the records it has without waiting for
// max of them.
func TestLineSourceDoesNotWaitForMax(t *testing.T) {
	pr, pw := io.Pipe()
	src := NewLineSource(pr)
	go pw.Write([]byte("YQ==\nYg==\n"))
	recs, err := src.Read(context.Background(), 100)
	if err != nil || len(recs) != 2 {
		t.Fatalf("Read = %d records, %v; want 2, nil", len(recs), err)
	}
	pw.CloseWithError(errors.New("boom"))
	if _, err := src.Read(context.Background(), 100); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Read after a failed reader = %v, want the reader's error", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
func (failWriter) Close() error              { return nil }

func TestFileSinkWriteErrorIsStickyAndReported(t *testing.T) {
	sink := NewFileSink(failWriter{})
	err := sink.Put(context.Background(), []Record{{Data: []byte("a")}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Put = %v, want disk full", err)
	}
	if sink.Healthy() == nil {
		t.Error("Healthy = nil after a failed write")
	}
	if err := sink.Put(context.Background(), []Record{{Data: []byte("b")}}); err == nil {
		t.Error("Put after a failed write succeeded")
	}
}

// FuzzLineSource: any input decodes without panicking, every record read is
// the decoding of a line, and re-encoding what was read reads back the same.
func FuzzLineSource(f *testing.F) {
	f.Add([]byte("YQ==\nYg\n\r\n!!\n"))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte("QUJD\r\nQUJD"))
	f.Fuzz(func(t *testing.T, in []byte) {
		src := NewLineSource(bytes.NewReader(in))
		var recs []Record
		for i := 0; ; i++ {
			if i > len(in)+2 {
				t.Fatal("Read does not terminate")
			}
			r, err := src.Read(context.Background(), 3)
			if errors.Is(err, ErrClosed) {
				break
			}
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("unexpected error %v", err)
			}
			recs = append(recs, r...)
		}
		var buf bufCloser
		sink := NewFileSink(&buf)
		if err := sink.Put(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		sink.Close(context.Background())
		again := NewLineSource(&buf)
		var back []Record
		for {
			r, err := again.Read(context.Background(), 1000)
			if errors.Is(err, ErrClosed) {
				break
			}
			if err != nil {
				t.Fatalf("re-reading our own output: %v", err)
			}
			back = append(back, r...)
		}
		// Empty records encode to blank lines, which are skipped.
		var nonEmpty []Record
		for _, r := range recs {
			if len(r.Data) > 0 {
				nonEmpty = append(nonEmpty, r)
			}
		}
		if len(back) != len(nonEmpty) {
			t.Fatalf("round trip: %d records, want %d", len(back), len(nonEmpty))
		}
		for i := range back {
			if !bytes.Equal(back[i].Data, nonEmpty[i].Data) {
				t.Fatalf("round trip record %d: %q != %q", i, back[i].Data, nonEmpty[i].Data)
			}
		}
	})
}
