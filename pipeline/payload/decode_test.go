package payload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// wire builds binary-protocol bytes by hand.
type wire struct{ bytes.Buffer }

func (w *wire) u8(b byte)              { w.WriteByte(b) }
func (w *wire) i16(v int16)            { binary.Write(w, binary.BigEndian, v) }
func (w *wire) i32(v int32)            { binary.Write(w, binary.BigEndian, v) }
func (w *wire) i64(v int64)            { binary.Write(w, binary.BigEndian, v) }
func (w *wire) str(s string)           { w.i32(int32(len(s))); w.WriteString(s) }
func (w *wire) field(t byte, id int16) { w.u8(t); w.i16(id) }

// unknownFields writes one unknown field of every Thrift type, the
// containers nested several levels deep, as a newer collector might send.
func unknownFields() []byte {
	var w wire
	w.field(tBool, 1)
	w.u8(1)
	w.field(tByte, 2)
	w.u8(0x7f)
	w.field(tDouble, 3)
	w.i64(0x400921fb54442d18)
	w.field(tI16, 4)
	w.i16(-2)
	w.field(tI32, 5)
	w.i32(1 << 30)
	w.field(tI64, 6)
	w.i64(-1)
	w.field(tString, 7)
	w.str("newer collector field")
	w.field(tUUID, 8)
	w.WriteString("0123456789abcdef")
	// struct { 1: map<string, list<i32>>, 2: set<struct{1: string}>, 3: struct{} }
	w.field(tStruct, 9)
	w.field(tMap, 1)
	w.u8(tString)
	w.u8(tList)
	w.i32(2)
	for _, k := range []string{"a", "bb"} {
		w.str(k)
		w.u8(tI32)
		w.i32(3)
		w.i32(1)
		w.i32(2)
		w.i32(3)
	}
	w.field(tSet, 2)
	w.u8(tStruct)
	w.i32(2)
	for _, s := range []string{"x", "y"} {
		w.field(tString, 1)
		w.str(s)
		w.u8(tStop)
	}
	w.field(tStruct, 3)
	w.u8(tStop)
	w.u8(tStop)
	// An empty map of types that could not be read: nothing to skip.
	w.field(tMap, 10)
	w.u8(tBool)
	w.u8(tUUID)
	w.i32(0)
	// list<list<string>>
	w.field(tList, 11)
	w.u8(tList)
	w.i32(1)
	w.u8(tString)
	w.i32(2)
	w.str("p")
	w.str("q")
	return w.Bytes()
}

// withUnknown inserts extra after the first field (schema) and before STOP
// of the hand-written payload.
func withUnknown(extra []byte) []byte {
	base := handWritten()
	first := 1 + 2 + 4 + len(Schema)
	var out []byte
	out = append(out, base[:first]...)
	out = append(out, extra...)
	out = append(out, base[first:len(base)-1]...)
	out = append(out, extra...)
	return append(out, tStop)
}

func mustAgree(t *testing.T, data []byte) (*CollectorPayload, error) {
	t.Helper()
	got, err := Unmarshal(data)
	want, werr := unmarshalThrift(data)
	if (err == nil) != (werr == nil) {
		t.Fatalf("hand-written reader error %v, Thrift reader error %v on %x", err, werr, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("readers disagree on %x:\nhand-written %+v\nThrift       %+v", data, got, want)
	}
	return got, err
}

func TestUnmarshalSkipsUnknownFieldsOfEveryType(t *testing.T) {
	want, err := Unmarshal(handWritten())
	if err != nil {
		t.Fatal(err)
	}
	got, err := mustAgree(t, withUnknown(unknownFields()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("unknown fields changed the payload:\n%+v\n%+v", got, want)
	}
	// Every truncation of the unknown fields is an error in both readers.
	full := withUnknown(unknownFields())
	for n := range len(full) - 1 {
		if _, err := mustAgree(t, full[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
}

// nestedLists is an unknown field of depth lists, each holding the next.
func nestedLists(depth int) []byte {
	var w wire
	w.field(tList, 999)
	for i := range depth {
		if i == depth-1 {
			w.u8(tI32)
			w.i32(0)
		} else {
			w.u8(tList)
			w.i32(1)
		}
	}
	return w.Bytes()
}

func TestUnmarshalDepthLimit(t *testing.T) {
	if _, err := mustAgree(t, withUnknown(nestedLists(maxDepth))); err != nil {
		t.Fatalf("%d nested lists: %v", maxDepth, err)
	}
	if _, err := mustAgree(t, withUnknown(nestedLists(maxDepth+1))); err == nil {
		t.Fatalf("%d nested lists accepted", maxDepth+1)
	}
	// Far deeper than any stack would survive unbounded recursion.
	if _, err := Unmarshal(withUnknown(nestedLists(1 << 19))); err == nil || !strings.Contains(err.Error(), "nesting") {
		t.Fatalf("half a million nested lists: %v", err)
	}
}

func TestUnmarshalCorruptCountsAllocateNothingBig(t *testing.T) {
	var cases [][]byte
	for _, elem := range []byte{tI64, tString, tStruct, tList, tBool} {
		var w wire
		w.field(tList, 999)
		w.u8(elem)
		w.i32(0x7fffffff)
		cases = append(cases, withUnknown(w.Bytes()))
	}
	var w wire
	w.field(tMap, 999)
	w.u8(tString)
	w.u8(tString)
	w.i32(0x7fffffff)
	cases = append(cases, withUnknown(w.Bytes()))
	// Headers claiming two billion strings.
	var h wire
	h.field(tString, idSchema)
	h.str(Schema)
	h.field(tList, idHeaders)
	h.u8(tString)
	h.i32(0x7fffffff)
	cases = append(cases, h.Bytes())
	// A string claiming 2 GiB.
	var s wire
	s.field(tString, idBody)
	s.i32(0x7fffffff)
	s.WriteString("short")
	cases = append(cases, s.Bytes())
	for _, c := range cases {
		if _, err := mustAgree(t, c); err == nil {
			t.Fatalf("corrupt count accepted: %x", c)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			Unmarshal(c)
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > 4096 {
			t.Fatalf("%d bytes allocated per call for a %d-byte record %x", per, len(c), c)
		}
	}
}

func TestUnmarshalRequiredFieldOfWrongTypeIsMissing(t *testing.T) {
	base := handWritten()
	// Rewrite the schema field's type byte to BINARY-incompatible I32 and
	// keep its bytes parseable: replace the whole field with an i32 one.
	first := 1 + 2 + 4 + len(Schema)
	var w wire
	w.field(tI32, idSchema)
	w.i32(7)
	data := append(w.Bytes(), base[first:]...)
	_, err := mustAgree(t, data)
	if !errors.Is(err, ErrMissingField) || !strings.Contains(err.Error(), "schema") {
		t.Fatalf("schema sent as i32: %v", err)
	}
}

func TestUnmarshalFieldsOutliveTheInput(t *testing.T) {
	data := handWritten()
	p, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	want := *p
	want.Headers = append([]string(nil), p.Headers...)
	for i := range data {
		data[i] = 'X'
	}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("fields changed with the input buffer: %+v", p)
	}
}

// FuzzUnmarshalAgreesWithThrift checks the hand-written decoder against
// apache/thrift's TBinaryProtocol on every input: same acceptance, same
// payload.
func FuzzUnmarshalAgreesWithThrift(f *testing.F) {
	f.Add(handWritten())
	f.Add(withUnknown(unknownFields()))
	f.Add(withUnknown(nestedLists(maxDepth)))
	f.Add(withUnknown(nestedLists(maxDepth + 1)))
	f.Add([]byte{15, 1, 94, 11, 127, 255, 255, 255})
	f.Add([]byte{13, 0, 1, 11, 11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		mustAgree(t, data)
	})
}

var sink *CollectorPayload

// BenchmarkUnmarshal compares the hand-written decoder with the Thrift
// library's on a typical browser-tracker record.
func BenchmarkUnmarshal(b *testing.B) {
	p := &CollectorPayload{IPAddress: "203.0.113.7", Timestamp: 1764151199900, Encoding: "UTF-8",
		Collector: "plowline-collector", UserAgent: strings.Repeat("Mozilla/5.0 ", 10), RefererURI: "https://gitlab.com/",
		Path: "/com.snowplowanalytics.snowplow/tp2", Body: strings.Repeat(`{"e":"pv","url":"https://gitlab.com/x"}`, 40),
		Headers:     []string{"Host: collector.example", "Accept: */*", "Content-Type: application/json", "Origin: https://gitlab.com"},
		ContentType: "application/json; charset=UTF-8", Hostname: "collector.example", NetworkUserID: "c6ef3124-b53a-4b13-a233-0088f79dcbcb"}
	data, err := p.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range []struct {
		name string
		fn   func([]byte) (*CollectorPayload, error)
	}{{"handwritten", Unmarshal}, {"thrift", unmarshalThrift}} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for range b.N {
				if sink, err = r.fn(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
