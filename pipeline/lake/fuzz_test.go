package lake

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/plowline/plowline/pipeline/event"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// oneObject serves a single uncompressed object.
type oneObject struct{ data []byte }

func (o oneObject) ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return &s3.ListObjectsV2Output{}, nil
}

func (o oneObject) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.data)), ContentLength: aws.Int64(int64(len(o.data)))}, nil
}

// FuzzObjectLines checks the loader's parsing of untrusted object
// contents: lines split on newlines (a final one ends the last line), and a
// 131-field line turns into 131 values that join back into the line.
func FuzzObjectLines(f *testing.F) {
	for _, s := range objectSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := splitLines(data)
		if trimmed := bytes.TrimSuffix(data, []byte("\n")); len(trimmed) > 0 && len(lines) != bytes.Count(trimmed, []byte("\n"))+1 {
			t.Fatalf("%q split into %d lines", data, len(lines))
		}
		for _, line := range lines {
			if bytes.Count(line, []byte("\t"))+1 != event.NumFields {
				continue
			}
			var fields [event.NumFields]string
			splitFields(&fields, line)
			parts := fields[:]
			if got := strings.Join(parts, "\t"); got != string(line) {
				t.Fatalf("values rejoin to %q, want %q", got, line)
			}
		}
	})
}

func objectSeeds() [][]byte {
	return [][]byte{
		tsvLine("e1"),
		append(append(tsvLine("e1"), '\n'), []byte("short\tline\r\n\n\t\t")...),
		[]byte("\n\n\n"),
		{0xff, '\t', 0, '\n'},
	}
}

// TestLoadObjectNeverDropsLines: every line of an object becomes exactly
// one row, in gitlab_events when it has 131 fields, else in
// gitlab_bad_events.
func TestLoadObjectNeverDropsLines(t *testing.T) {
	wh, err := OpenWarehouse(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	for n, data := range objectSeeds() {
		ld, err := NewLoader(LoaderConfig{Bucket: "b"}, wh, oneObject{data}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ld.Close()
		before := count(t, wh, "SELECT COUNT(*) FROM gitlab_events") + count(t, wh, "SELECT COUNT(*) FROM gitlab_bad_events")
		key := PrefixOutput + "fuzz/" + string(rune('a'+n)) + uuid.NewString()
		ld.Notify(key)
		if _, err := ld.LoadPending(context.Background()); err != nil {
			t.Fatalf("load failed: %v", err)
		}
		after := count(t, wh, "SELECT COUNT(*) FROM gitlab_events") + count(t, wh, "SELECT COUNT(*) FROM gitlab_bad_events")
		if want := len(splitLines(data)); after-before != want {
			t.Fatalf("%q: %d lines became %d rows", data, want, after-before)
		}
	}
}
