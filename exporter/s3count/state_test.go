package s3count

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	st := newState()
	st.Window = 300
	ps := st.prefix("output/")
	ps.Closed[1764147600] = true
	a := &object{Size: 10, Modified: 1764149000123, Hour: 1764147600, Read: true}
	a.setETag(`"0123456789abcdef0123456789abcdef"`)
	a.setWindows([][2]int64{{1764148200, 7}, {1764147900, 3}})
	b := &object{Size: 5, Modified: 1764149000000, Hour: 1764147600}
	b.setETag(`"d41d8cd98f00b204e9800998ecf8427e-2"`) // multipart: kept as text
	ps.Objects["output/2026/11/26/09/a.gz"] = a
	ps.Objects["output/2026/11/26/09/odd\tkey \"quoted\"\n.gz"] = b
	st.prefix("enriched-bad/")
	st.Canary["c-1"] = time.UnixMilli(1764149000999).UTC()
	var buf bytes.Buffer
	if err := st.write(&buf); err != nil {
		t.Fatal(err)
	}
	back := newState()
	if err := back.read(&buf); err != nil {
		t.Fatal(err)
	}
	st.dirty, back.dirty = false, false
	if !reflect.DeepEqual(st, back) {
		t.Errorf("round trip changed the state:\n%+v\n%+v", st, back)
	}
	if a.W != 1764147900 || a.N != 3 || len(a.More) != 1 {
		t.Errorf("windows not sorted with the first inline: %+v", a)
	}
	if !a.sameETag(`"0123456789abcdef0123456789abcdef"`) || a.sameETag(`"0123456789ABCDEF0123456789ABCDEF"`) || !b.sameETag(`"d41d8cd98f00b204e9800998ecf8427e-2"`) {
		t.Error("ETag comparison")
	}
}

func TestCorruptStateIsRefusedNamingTheLine(t *testing.T) {
	for _, in := range []string{"", "nope\n", stateMagic + "\no\t1\t2\n", stateMagic + "\nprefix\toutput/\no\tx\t1\t1\t1\te\tk\n", stateMagic + "\nwhat\t1\n"} {
		if err := newState().read(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// FuzzStateRead: a damaged state file is an error or a state, never a panic,
// and whatever loads writes back to the same state.
func FuzzStateRead(f *testing.F) {
	f.Add(stateMagic + "\nwindow\t60\nprefix\toutput/\nclosed\t3600\no\t3600\t10\t1000\t1\t\"0123456789abcdef0123456789abcdef\"\tk\t60:2\t120:1\ncanary\tc\t5\n")
	f.Fuzz(func(t *testing.T, in string) {
		st := newState()
		if err := st.read(strings.NewReader(in)); err != nil {
			return
		}
		var buf bytes.Buffer
		if err := st.write(&buf); err != nil {
			t.Fatal(err)
		}
		again := newState()
		if err := again.read(&buf); err != nil {
			t.Fatalf("written state does not load: %v\n%s", err, buf.String())
		}
		if again.objectCount() != st.objectCount() {
			t.Fatalf("objects %d then %d", st.objectCount(), again.objectCount())
		}
	})
}
