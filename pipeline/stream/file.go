package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
)

// FileSink writes each record as one line of standard base64 (the format
// of Snowplow's stdout sink), to a file or stdout. It is safe for
// concurrent Put. Each Put is written out before it returns (one write call
// per Put), so `plowline collector --sink stdout | …` sees records at once;
// the partition key is not written. An empty record becomes an empty line,
// which LineSource skips (collector payloads are never empty).
type FileSink struct {
	mu      sync.Mutex
	w       io.WriteCloser
	bw      *bufio.Writer
	err     error // sticky: once a write failed the sink stays failed
	closed  bool
	scratch []byte
}

// NewFileSink returns a sink writing to w; Close closes w.
func NewFileSink(w io.WriteCloser) *FileSink {
	return &FileSink{w: w, bw: bufio.NewWriterSize(w, 64<<10)}
}

// Put writes the records, one base64 line each.
func (f *FileSink) Put(ctx context.Context, records []Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if f.err != nil {
		return f.err
	}
	for _, r := range records {
		f.scratch = base64.StdEncoding.AppendEncode(f.scratch[:0], r.Data)
		f.scratch = append(f.scratch, '\n')
		f.bw.Write(f.scratch) // errors surface through bw.Flush
	}
	if cap(f.scratch) > 1<<20 {
		f.scratch = nil // do not pin a buffer sized for one huge record
	}
	if err := f.bw.Flush(); err != nil {
		f.err = fmt.Errorf("file sink: writing records: %w", err)
		return f.err
	}
	return nil
}

// Healthy returns the write error that broke the sink, or nil.
func (f *FileSink) Healthy() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Buffered returns 0, 0: Put writes through before returning.
func (f *FileSink) Buffered() (used, limit int64) { return 0, 0 }

// Close flushes and closes the underlying writer.
func (f *FileSink) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	ferr := f.bw.Flush()
	cerr := f.w.Close()
	if err := errors.Join(ferr, cerr); err != nil {
		return fmt.Errorf("file sink: closing: %w", err)
	}
	return nil
}

// LineError is returned by LineSource.Read for a line that is not valid
// base64. The line is consumed: the next Read continues after it.
type LineError struct {
	Line int // 1-based line number
	Err  error
}

// Error names the input line so the operator can find the record.
func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: not a base64 record: %v", e.Line, e.Err)
}

// Unwrap returns the decoding error.
func (e *LineError) Unwrap() error { return e.Err }

// MaxLineBytes is the longest line LineSource accepts: a base64 Kinesis
// record of the largest size, with room to spare.
const MaxLineBytes = 4 << 20

// LineSource reads records written by FileSink: one standard-base64 record
// per line (a trailing "\r" is ignored, blank lines are skipped, padding is
// optional). It is the input of `plowline enrich` over files and stdin.
//
// A line that does not decode is not skipped silently: Read first returns
// the records before it (with a nil error), then a *LineError naming the
// line, and then carries on after it — so a caller can count the line as a
// bad row and keep reading. At the end of input Read returns ErrClosed; a
// read error from the underlying reader is returned wrapped.
//
// Read does not wait for max records: once it has one it returns as soon
// as no further complete line is already buffered, so a source on a pipe
// passes records on as they arrive. ctx is checked between lines; a read
// blocked in the underlying reader is not interrupted. Not safe for
// concurrent use.
type LineSource struct {
	r       *bufio.Reader
	line    int
	pending error // a LineError or read error to return on the next call
	eof     bool
}

// NewLineSource returns a source reading base64 lines from r.
func NewLineSource(r io.Reader) *LineSource {
	return &LineSource{r: bufio.NewReaderSize(r, 64<<10)}
}

// Read returns up to max records; see LineSource.
func (s *LineSource) Read(ctx context.Context, max int) ([]Record, error) {
	if max < 1 {
		max = 1
	}
	if s.pending != nil {
		err := s.pending
		s.pending = nil
		return nil, err
	}
	var out []Record
	for len(out) < max {
		if err := ctx.Err(); err != nil {
			if len(out) > 0 {
				return out, nil
			}
			return nil, err
		}
		if s.eof {
			break
		}
		if len(out) > 0 && !s.lineBuffered() {
			break
		}
		line, err := s.readLine()
		if err == errLineTooLong {
			s.line++
			lerr := &LineError{Line: s.line, Err: err}
			if len(out) > 0 {
				s.pending = lerr
				return out, nil
			}
			return nil, lerr
		}
		if err == io.EOF {
			if len(line) == 0 {
				break
			}
		} else if err != nil {
			if len(out) > 0 {
				s.pending = err
				return out, nil
			}
			return nil, err
		}
		s.line++
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		data, derr := decodeLine(line)
		if derr != nil {
			lerr := &LineError{Line: s.line, Err: derr}
			if len(out) > 0 {
				s.pending = lerr
				return out, nil
			}
			return nil, lerr
		}
		out = append(out, Record{Data: data})
	}
	if len(out) == 0 && s.eof {
		return nil, ErrClosed
	}
	return out, nil
}

// lineBuffered reports whether a complete line is already in the buffer.
func (s *LineSource) lineBuffered() bool {
	n := s.r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := s.r.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// readLine returns the next line without its "\n", and io.EOF with the
// last line if it has no "\n". A line longer than MaxLineBytes is consumed
// and errLineTooLong returned.
func (s *LineSource) readLine() ([]byte, error) {
	var long []byte
	tooLong := false
	for {
		frag, err := s.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if !tooLong && len(long)+len(frag) > MaxLineBytes {
				tooLong, long = true, nil
			}
			if !tooLong {
				long = append(long, frag...)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading line %d: %w", s.line+1, err)
		}
		if err == io.EOF {
			s.eof = true
		}
		if tooLong || len(long)+len(frag) > MaxLineBytes {
			return nil, errLineTooLong
		}
		line := append(long, frag...) // a copy: frag is bufio's buffer
		return bytes.TrimSuffix(line, []byte{'\n'}), err
	}
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineBytes)

func decodeLine(line []byte) ([]byte, error) {
	line = bytes.TrimSpace(line)
	enc := base64.StdEncoding
	if len(line)%4 != 0 {
		enc = base64.RawStdEncoding
		line = bytes.TrimRight(line, "=")
	}
	out := make([]byte, enc.DecodedLen(len(line)))
	n, err := enc.Decode(out, line)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}
