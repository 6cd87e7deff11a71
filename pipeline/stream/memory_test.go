package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMemoryDeliversEverythingInOrderUnderBackPressure(t *testing.T) {
	m := NewMemory("raw", 4)
	ctx := context.Background()
	const n = 1000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := m.Put(ctx, []Record{{Data: []byte(fmt.Sprint(i))}}); err != nil {
				t.Error(err)
				return
			}
		}
		m.Close(ctx)
	}()
	next := 0
	for {
		recs, err := m.Read(ctx, 7)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || len(recs) > 7 {
			t.Fatalf("read %d records", len(recs))
		}
		for _, r := range recs {
			if string(r.Data) != fmt.Sprint(next) {
				t.Fatalf("got %s, want %d", r.Data, next)
			}
			next++
		}
	}
	wg.Wait()
	if next != n {
		t.Fatalf("read %d of %d records", next, n)
	}
	if err := m.Put(ctx, []Record{{}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
}

func TestMemoryPutHonoursContextWhenFull(t *testing.T) {
	m := NewMemory("raw", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := m.Put(ctx, []Record{{}, {}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put into full stream: %v", err)
	}
}

// TestMemoryBoundsBytes: a stream with a byte capacity takes records until
// their data fills it, then pushes back; a record larger than the whole
// capacity waits for an empty stream and then goes through alone; reading
// frees the room.
func TestMemoryBoundsBytes(t *testing.T) {
	m := NewMemoryBytes("raw", 100, 1000)
	rec := func(n int) []Record { return []Record{{Data: make([]byte, n)}} }
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 20*time.Millisecond)
	}
	ctx := context.Background()
	for range 2 {
		if err := m.Put(ctx, rec(400)); err != nil {
			t.Fatal(err)
		}
	}
	c, cancel := short()
	if err := m.Put(c, rec(400)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put of 400 bytes into a stream holding 800 of 1000: %v, want back-pressure", err)
	}
	cancel()
	if err := m.Put(ctx, rec(200)); err != nil {
		t.Fatalf("put of 200 bytes into a stream holding 800 of 1000: %v", err)
	}
	got, err := m.ReadUpTo(ctx, 10, 500)
	if err != nil || len(got) != 2 {
		t.Fatalf("ReadUpTo 500 bytes: %d records, %v; want 2 (it stops once 500 bytes are reached)", len(got), err)
	}
	c, cancel = short()
	if err := m.Put(c, rec(5000)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("oversized put into a non-empty stream: %v, want back-pressure", err)
	}
	cancel()
	if got, _ := m.Read(ctx, 10); len(got) != 1 {
		t.Fatalf("read %d records, want the last one", len(got))
	}
	if err := m.Put(ctx, rec(5000)); err != nil {
		t.Fatalf("oversized put into an empty stream: %v", err)
	}
	c, cancel = short()
	defer cancel()
	if err := m.Put(c, rec(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put behind an oversized record: %v, want back-pressure", err)
	}
}
