package s3count

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
)

// CanaryAppID is the app_id of the exporter's synthetic canary events;
// records with it are noted (event id → when written) while counting.
const CanaryAppID = "plowline-canary"

// counts is what reading one object produced.
type counts struct {
	// windows are (window start Unix seconds, records) pairs.
	windows [][2]int64
	canary  map[string]time.Time
	// unparseable counts lines whose timestamp could not be read; they are
	// bucketed by the object's LastModified.
	unparseable int64
}

func (s *Source) readObject(ctx context.Context, key, format string, modified time.Time) (counts, error) {
	s.usage.Requests.Add(1)
	s.usage.AddCost("get_requests", 1)
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.set.Bucket), Key: aws.String(key)})
	if err != nil {
		return counts{}, fmt.Errorf("reading s3://%s/%s: %w", s.set.Bucket, key, err)
	}
	defer out.Body.Close()
	cr := &countingReader{r: out.Body}
	c, err := Count(cr, format, s.st.windowSeconds(), modified)
	s.usage.AddCost("bytes_read", cr.n)
	if err != nil {
		return counts{}, fmt.Errorf("reading s3://%s/%s: %w", s.set.Bucket, key, err)
	}
	if c.unparseable > 0 {
		s.log.Warn("records without a readable timestamp, counted at the object's write time", "source", s.name, "key", key, "records", c.unparseable)
	}
	return c, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Count counts the records of one object (gzip-compressed or not) per
// window of window seconds: TSV lines by collector_tstamp, bad rows by
// their failure timestamp; lines without one go to modified's window.
func Count(r io.Reader, format string, window int64, modified time.Time) (counts, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var in io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return counts{}, fmt.Errorf("gzip header: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	c := counts{}
	acc := map[int64]int64{}
	fallback := modified.Unix() - modified.Unix()%window
	var lastStamp [19]byte
	lastWin := int64(-1)
	lc := &lineSplitter{onLine: func(line []byte) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			return
		}
		w := int64(-1)
		if format == FormatBad {
			if sec, ok := badRowTime(line); ok {
				w = sec - sec%window
			}
		} else {
			w = tsvWindow(line, window, &lastStamp, &lastWin, &c)
		}
		if w < 0 {
			c.unparseable++
			w = fallback
		}
		acc[w]++
	}}
	// The gzip reader writes its decompressed window straight into the
	// splitter (WriterTo): no second copy of every byte.
	if _, err := io.Copy(lc, in); err != nil {
		return counts{}, err
	}
	lc.flush()
	for w, n := range acc {
		c.windows = append(c.windows, [2]int64{w, n})
	}
	return c, nil
}

// lineSplitter calls onLine for every line written to it, across write
// boundaries; a final line without a newline is passed on flush.
type lineSplitter struct {
	carry  []byte
	onLine func([]byte)
}

func (l *lineSplitter) Write(p []byte) (int, error) {
	n := len(p)
	if len(l.carry) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.carry = append(l.carry, p...)
			return n, nil
		}
		l.carry = append(l.carry, p[:i]...)
		l.onLine(l.carry)
		l.carry = l.carry[:0]
		p = p[i+1:]
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		l.onLine(p[:i])
		p = p[i+1:]
	}
	l.carry = append(l.carry, p...)
	return n, nil
}

func (l *lineSplitter) flush() {
	if len(l.carry) > 0 {
		l.onLine(l.carry)
		l.carry = l.carry[:0]
	}
}

// tsvWindow finds collector_tstamp (the 4th field) and returns its window
// start, or -1. Consecutive records usually share the second, so the last
// stamp's window is reused without parsing.
func tsvWindow(line []byte, window int64, lastStamp *[19]byte, lastWin *int64, c *counts) int64 {
	t1 := bytes.IndexByte(line, '\t')
	if t1 < 0 {
		return -1
	}
	t2 := bytes.IndexByte(line[t1+1:], '\t')
	if t2 < 0 {
		return -1
	}
	t2 += t1 + 1
	t3 := bytes.IndexByte(line[t2+1:], '\t')
	if t3 < 0 {
		return -1
	}
	t3 += t2 + 1
	f := line[t3+1:]
	if len(f) < 19 {
		return -1
	}
	if string(line[:t1]) == CanaryAppID {
		noteCanary(line, f, c)
	}
	if *lastWin >= 0 && string(f[:19]) == string(lastStamp[:]) {
		return *lastWin
	}
	sec, ok := parseStamp(f[:19])
	if !ok {
		return -1
	}
	copy(lastStamp[:], f[:19])
	*lastWin = sec - sec%window
	return *lastWin
}

// noteCanary records a canary event's id (field 7) with its collector time.
func noteCanary(line, stamp []byte, c *counts) {
	fields := bytes.SplitN(line, []byte{'\t'}, 8)
	if len(fields) < 8 || len(fields[6]) == 0 {
		return
	}
	t, err := time.Parse("2006-01-02 15:04:05.000", string(stamp[:min(len(stamp), 23)]))
	if err != nil {
		t, _ = time.Parse("2006-01-02 15:04:05", string(stamp[:19]))
	}
	if c.canary == nil {
		c.canary = map[string]time.Time{}
	}
	c.canary[string(fields[6])] = t
}

// parseStamp reads "YYYY-MM-DD HH:MM:SS" (UTC) as Unix seconds without
// allocating.
func parseStamp(b []byte) (int64, bool) {
	if b[4] != '-' || b[7] != '-' || (b[10] != ' ' && b[10] != 'T') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	num := func(s []byte) (int64, bool) {
		var v int64
		for _, ch := range s {
			if ch < '0' || ch > '9' {
				return 0, false
			}
			v = v*10 + int64(ch-'0')
		}
		return v, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return 0, false
	}
	return daysFromCivil(y, mo, d)*86400 + h*3600 + mi*60 + s, true
}

// daysFromCivil is days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// badRowTime reads data.failure.timestamp of a self-describing bad row.
func badRowTime(line []byte) (int64, bool) {
	var br struct {
		Data struct {
			Failure struct {
				Timestamp string `json:"timestamp"`
			} `json:"failure"`
		} `json:"data"`
	}
	if err := json.Unmarshal(line, &br); err != nil || br.Data.Failure.Timestamp == "" {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, br.Data.Failure.Timestamp)
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}
