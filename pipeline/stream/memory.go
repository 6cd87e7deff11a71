package stream

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Memory is an in-memory stream with a fixed capacity in records and,
// optionally, in bytes. Put blocks while it is full (back-pressure, as a
// throttled Kinesis stream pushes back), so nothing is ever dropped; Read
// hands records out in order.
//
// The byte capacity counts the records' data. A record larger than the
// whole capacity still goes through, alone: it waits until the stream is
// empty. So the stream never holds more than max(capacity bytes, one
// record).
type Memory struct {
	name     string
	ch       chan Record
	bytes    *semaphore.Weighted // nil: no byte bound
	capBytes int64
	mu       sync.RWMutex
	closed   bool
	once     sync.Once
}

// NewMemory returns an empty stream that holds up to capacity records.
func NewMemory(name string, capacity int) *Memory {
	return NewMemoryBytes(name, capacity, 0)
}

// NewMemoryBytes returns an empty stream that holds up to capacity records
// and up to capacityBytes bytes of record data (0: no byte bound).
func NewMemoryBytes(name string, capacity int, capacityBytes int64) *Memory {
	if capacity < 1 {
		capacity = 1
	}
	m := &Memory{name: name, ch: make(chan Record, capacity)}
	if capacityBytes > 0 {
		m.bytes, m.capBytes = semaphore.NewWeighted(capacityBytes), capacityBytes
	}
	return m
}

// Name returns the stream's name.
func (m *Memory) Name() string { return m.name }

// Len returns the number of records waiting to be read.
func (m *Memory) Len() int { return len(m.ch) }

// weight is what a record holds of the byte capacity.
func (m *Memory) weight(r Record) int64 { return min(int64(len(r.Data)), m.capBytes) }

// Put appends records, waiting for room. The data slices are kept, so the
// caller must not reuse them.
func (m *Memory) Put(ctx context.Context, records []Record) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	for _, r := range records {
		if m.bytes != nil {
			if err := m.bytes.Acquire(ctx, m.weight(r)); err != nil {
				return err
			}
		}
		select {
		case m.ch <- r:
		case <-ctx.Done():
			if m.bytes != nil {
				m.bytes.Release(m.weight(r))
			}
			return ctx.Err()
		}
	}
	return nil
}

// Close stops further writes; readers drain what is left and then get ErrClosed.
func (m *Memory) Close(context.Context) error {
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true
		close(m.ch)
		m.mu.Unlock()
	})
	return nil
}

// Read returns up to max records, waiting for the first one.
func (m *Memory) Read(ctx context.Context, max int) ([]Record, error) {
	return m.ReadUpTo(ctx, max, 0)
}

// ReadUpTo returns up to max records, waiting for the first one, and stops
// adding records once they hold maxBytes bytes or more (0: no byte limit),
// so a reader holds a bounded amount of data, not max records of any size.
func (m *Memory) ReadUpTo(ctx context.Context, max int, maxBytes int64) ([]Record, error) {
	if max < 1 {
		max = 1
	}
	var first Record
	select {
	case r, ok := <-m.ch:
		if !ok {
			return nil, ErrClosed
		}
		first = r
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	m.release(first)
	out := make([]Record, 1, min(max, 1+len(m.ch)))
	out[0] = first
	size := int64(len(first.Data))
	for len(out) < max && (maxBytes <= 0 || size < maxBytes) {
		select {
		case r, ok := <-m.ch:
			if !ok {
				return out, nil
			}
			m.release(r)
			out = append(out, r)
			size += int64(len(r.Data))
		default:
			return out, nil
		}
	}
	return out, nil
}

func (m *Memory) release(r Record) {
	if m.bytes != nil {
		m.bytes.Release(m.weight(r))
	}
}
