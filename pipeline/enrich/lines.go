package enrich

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/plowline/plowline/pipeline/badrow"
	"github.com/plowline/plowline/pipeline/stream"
)

// Summary counts what Process did.
type Summary struct {
	Payloads int
	Good     int
	Bad      int
	// BadByType counts bad rows by type (schema_violations, ...).
	BadByType map[string]int
}

// String renders the summary for a log line.
func (s Summary) String() string {
	types := make([]string, 0, len(s.BadByType))
	for t, n := range s.BadByType {
		types = append(types, fmt.Sprintf("%s=%d", t, n))
	}
	sort.Strings(types)
	return fmt.Sprintf("%d payloads, %d good events, %d bad rows (%s)", s.Payloads, s.Good, s.Bad, strings.Join(types, " "))
}

func (s *Summary) add(out Output) {
	s.Good += len(out.Good)
	s.Bad += len(out.Bad)
	for _, t := range out.BadTypes {
		s.BadByType[t]++
	}
}

// Process enriches base64 collector payloads, one per line of in (the
// format of the collector's file sink and of Snowplow's stdout sink),
// writing enriched TSV lines to good and bad-row JSON lines to bad. A line
// that is not base64 becomes a collector_payload_format_violation naming
// the line. It stops at the end of input, or with an error if ctx ends or
// a write fails. workers > 1 enriches that many payloads at a time; the
// output keeps the input's order either way.
func (e *Enricher) Process(ctx context.Context, in io.Reader, good, bad io.Writer, workers int) (Summary, error) {
	sum := Summary{BadByType: map[string]int{}}
	src := stream.NewLineSource(in)
	gw, bw := bufio.NewWriterSize(good, 256<<10), bufio.NewWriterSize(bad, 64<<10)
	write := func(out Output) error {
		for _, l := range out.Good {
			gw.Write(l)
			gw.WriteByte('\n')
		}
		for _, l := range out.Bad {
			bw.Write(l)
			bw.WriteByte('\n')
		}
		sum.add(out)
		// Surface a broken output at once (bufio errors are sticky).
		if _, err := gw.Write(nil); err != nil {
			return fmt.Errorf("writing enriched events: %w", err)
		}
		if _, err := bw.Write(nil); err != nil {
			return fmt.Errorf("writing bad rows: %w", err)
		}
		return nil
	}
	flush := func() error {
		if err := gw.Flush(); err != nil {
			return fmt.Errorf("writing enriched events: %w", err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("writing bad rows: %w", err)
		}
		return nil
	}
	for {
		recs, err := src.Read(ctx, 256)
		for _, out := range e.enrichAll(ctx, recs, workers) {
			sum.Payloads++
			if werr := write(out); werr != nil {
				return sum, werr
			}
		}
		var lerr *stream.LineError
		switch {
		case err == nil:
			// Nothing more buffered: pass what we have on (pipes, tail -f).
			if err := flush(); err != nil {
				return sum, err
			}
		case errors.Is(err, stream.ErrClosed):
			return sum, flush()
		case errors.As(err, &lerr):
			sum.Payloads++
			e.m.payloads.Inc()
			var out Output
			e.addBad(&out, badrow.NewCollectorPayloadFormatViolation(e.processor, e.now(), badrow.LoaderThrift,
				fmt.Sprintf("input line %d: %v", lerr.Line, lerr.Err), ""))
			if werr := write(out); werr != nil {
				return sum, werr
			}
		default:
			ferr := flush()
			return sum, errors.Join(fmt.Errorf("reading payloads: %w", err), ferr)
		}
	}
}

// enrichAll enriches records on up to workers goroutines, outputs in input order.
func (e *Enricher) enrichAll(ctx context.Context, recs []stream.Record, workers int) []Output {
	outs := make([]Output, len(recs))
	if workers <= 1 || len(recs) < 2 {
		for i, r := range recs {
			outs[i] = e.Enrich(ctx, r.Data)
		}
		return outs
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(workers, len(recs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(recs) {
					return
				}
				outs[i] = e.Enrich(ctx, recs[i].Data)
			}
		}()
	}
	wg.Wait()
	return outs
}
