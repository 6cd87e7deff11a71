package stream

import (
	"context"
	"io"
	"testing"
)

type discardCloser struct{ io.Writer }

func (discardCloser) Close() error { return nil }

// BenchmarkFileSinkPut: one Put of one 1 KiB record (a collector request
// with the stdout/file sink).
func BenchmarkFileSinkPut(b *testing.B) {
	sink := NewFileSink(discardCloser{io.Discard})
	recs := []Record{{Data: make([]byte, 1024)}}
	b.SetBytes(1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := sink.Put(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
}
