package stream

import (
	"context"
	"sync"
)

// Memory is an in-memory stream with a fixed capacity in records. Put blocks
// while it is full (back-pressure, as a throttled Kinesis stream pushes back),
// so nothing is ever dropped; Read hands records out in order.
type Memory struct {
	name   string
	ch     chan Record
	mu     sync.RWMutex
	closed bool
	once   sync.Once
}

// NewMemory returns an empty stream that holds up to capacity records.
func NewMemory(name string, capacity int) *Memory {
	if capacity < 1 {
		capacity = 1
	}
	return &Memory{name: name, ch: make(chan Record, capacity)}
}

// Name returns the stream's name.
func (m *Memory) Name() string { return m.name }

// Len returns the number of records waiting to be read.
func (m *Memory) Len() int { return len(m.ch) }

// Put appends records, waiting for room. The data slices are kept, so the
// caller must not reuse them.
func (m *Memory) Put(ctx context.Context, records []Record) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	for _, r := range records {
		select {
		case m.ch <- r:
		case <-ctx.Done():
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
	out := make([]Record, 1, min(max, 1+len(m.ch)))
	out[0] = first
	for len(out) < max {
		select {
		case r, ok := <-m.ch:
			if !ok {
				return out, nil
			}
			out = append(out, r)
		default:
			return out, nil
		}
	}
	return out, nil
}
