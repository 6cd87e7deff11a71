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
