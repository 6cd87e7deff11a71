package pseudonymize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// StreamStats counts what Stream did.
type StreamStats struct {
	Lines    int // non-empty input lines
	OK       int // lines written pseudonymized
	Rejected int // lines handed to the reject function
}

// RejectFunc receives a line Stream could not pseudonymize: its 1-based
// number, its original bytes (valid only during the call) and why.
type RejectFunc func(lineNo int, line []byte, reason error) error

// maxLine bounds one input line (a raw bad row with a large body); longer
// lines are rejected rather than held in memory.
const maxLine = 64 << 20

// Stream reads newline-separated lines (enriched TSV events or bad-row
// JSON) from in and writes each pseudonymized, newline-terminated, to out.
// Empty lines are skipped. A line that cannot be pseudonymized is never
// written to out: it goes to reject. Stream stops at the first I/O error or
// error from reject.
func (p *Pseudonymizer) Stream(in io.Reader, out io.Writer, reject RejectFunc) (StreamStats, error) {
	var st StreamStats
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriterSize(out, 1<<20)
	var buf, long []byte
	for n := 1; ; n++ {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxLine {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return st, fmt.Errorf("reading line %d: %w", n, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			st.Lines++
			var terr error
			if len(line) > maxLine {
				terr = fmt.Errorf("line longer than %d bytes", maxLine)
				// Drain the rest of the overlong line.
				for errors.Is(err, bufio.ErrBufferFull) {
					_, err = r.ReadSlice('\n')
				}
			} else {
				buf, terr = p.Transform(buf[:0], line)
			}
			if terr != nil {
				st.Rejected++
				if reject != nil {
					if rerr := reject(n, trimNewline(line), terr); rerr != nil {
						return st, fmt.Errorf("rejecting line %d: %w", n, rerr)
					}
				}
			} else {
				st.OK++
				buf = append(buf, '\n')
				if _, werr := w.Write(buf); werr != nil {
					return st, fmt.Errorf("writing line %d: %w", n, werr)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return st, fmt.Errorf("writing output: %w", err)
	}
	return st, nil
}

// RejectsTSV returns a RejectFunc writing one line per rejected input to w:
// line number, reason and the original line, tab-separated — the original
// is kept byte for byte so it can be fixed and fed again. The rejects file
// holds data in clear: protect it like the input.
func RejectsTSV(w io.Writer) RejectFunc {
	return func(n int, line []byte, reason error) error {
		r := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(reason.Error())
		if _, err := fmt.Fprintf(w, "%d\t%s\t", n, r); err != nil {
			return err
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	}
}
