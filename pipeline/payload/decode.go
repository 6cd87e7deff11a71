package payload

import "fmt"

// Thrift type codes of the binary protocol (TType in the IDL's runtime).
const (
	tStop   = 0
	tBool   = 2
	tByte   = 3
	tDouble = 4
	tI16    = 6
	tI32    = 8
	tI64    = 10
	tString = 11
	tStruct = 12
	tMap    = 13
	tSet    = 14
	tList   = 15
	tUUID   = 16
)

// maxDepth bounds how deeply nested an unknown field may be, as Thrift's
// own Skip does (DEFAULT_RECURSION_DEPTH): a record of nested list headers
// must not exhaust the stack.
const maxDepth = 64

// decoder reads Thrift's binary protocol from a string: reading a string
// field is slicing, not copying.
type decoder struct {
	s   string
	off int
}

// truncated is the error for a read past the end of the record.
func (d *decoder) truncated(need int) error {
	return fmt.Errorf("truncated: %d bytes needed at offset %d, %d left", need, d.off, len(d.s)-d.off)
}

// take advances over n bytes and returns them.
func (d *decoder) take(n int) (string, error) {
	if n > len(d.s)-d.off {
		return "", d.truncated(n)
	}
	v := d.s[d.off : d.off+n]
	d.off += n
	return v, nil
}

func (d *decoder) byte() (byte, error) {
	if d.off >= len(d.s) {
		return 0, d.truncated(1)
	}
	b := d.s[d.off]
	d.off++
	return b, nil
}

func (d *decoder) i16() (int16, error) {
	v, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return int16(uint16(v[0])<<8 | uint16(v[1])), nil
}

func (d *decoder) i32() (int32, error) {
	v, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return int32(uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])), nil
}

func (d *decoder) u64() (uint64, error) {
	v, err := d.take(8)
	if err != nil {
		return 0, err
	}
	var u uint64
	for i := range 8 {
		u = u<<8 | uint64(v[i])
	}
	return u, nil
}

// string reads a length-prefixed string. A length beyond the record is an
// error before anything is allocated (nothing is: the value is a slice).
func (d *decoder) string() (string, error) {
	n, err := d.i32()
	if err != nil {
		return "", err
	}
	if n < 0 {
		return "", fmt.Errorf("negative string length %d at offset %d", n, d.off-4)
	}
	return d.take(int(n))
}

// minSize is the fewest bytes an element of type t takes on the wire, used
// to refuse a container count its remaining bytes cannot hold (as Thrift's
// checkContainerSizeForProtocol does).
func minSize(t byte) int64 {
	switch t {
	case tDouble, tI64:
		return 8
	case tI16:
		return 2
	case tI32, tString, tMap, tSet, tList:
		return 4
	case tUUID:
		return 16
	}
	return 1
}

// count reads a container's element count and checks that elemSize-byte
// elements of that count fit in what is left of the record, so a corrupt
// count can neither allocate nor loop beyond the record's length.
func (d *decoder) count(elemSize int64) (int, error) {
	n, err := d.i32()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("negative container size %d at offset %d", n, d.off-4)
	}
	if need := int64(n) * elemSize; need > int64(len(d.s)-d.off) {
		return 0, fmt.Errorf("container of %d elements needs at least %d bytes at offset %d, %d left", n, need, d.off, len(d.s)-d.off)
	}
	return int(n), nil
}

// skip steps over one value of type t, nested containers and structs
// included, at most depth levels deep.
func (d *decoder) skip(t byte, depth int) error {
	if depth <= 0 {
		return fmt.Errorf("nesting deeper than %d levels at offset %d", maxDepth, d.off)
	}
	switch t {
	case tBool, tByte:
		_, err := d.take(1)
		return err
	case tI16:
		_, err := d.take(2)
		return err
	case tI32:
		_, err := d.take(4)
		return err
	case tI64, tDouble:
		_, err := d.take(8)
		return err
	case tUUID:
		_, err := d.take(16)
		return err
	case tString:
		_, err := d.string()
		return err
	case tStruct:
		for {
			ft, err := d.byte()
			if err != nil {
				return err
			}
			if ft == tStop {
				return nil
			}
			if _, err := d.i16(); err != nil {
				return err
			}
			if err := d.skip(ft, depth-1); err != nil {
				return err
			}
		}
	case tMap:
		kv, err := d.take(2)
		if err != nil {
			return err
		}
		n, err := d.count(minSize(kv[0]) + minSize(kv[1]))
		if err != nil {
			return err
		}
		for range n {
			if err := d.skip(kv[0], depth-1); err != nil {
				return err
			}
			if err := d.skip(kv[1], depth-1); err != nil {
				return err
			}
		}
		return nil
	case tSet, tList:
		et, err := d.byte()
		if err != nil {
			return err
		}
		n, err := d.count(minSize(et))
		if err != nil {
			return err
		}
		for range n {
			if err := d.skip(et, depth-1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown Thrift type %d at offset %d", t, d.off)
}

// headers reads the headers list<string>. A list of another element type
// carries no header we can use: it is skipped, and counts as present.
func (d *decoder) headers(p *CollectorPayload) error {
	et, err := d.byte()
	if err != nil {
		return err
	}
	n, err := d.count(minSize(et))
	if err != nil {
		return err
	}
	p.HasHeaders = true
	if et != tString {
		p.Headers = []string{}
		for range n {
			if err := d.skip(et, maxDepth); err != nil {
				return err
			}
		}
		return nil
	}
	// count checked n against the bytes left, but a record of empty
	// strings would still preallocate four times its size: cap it.
	p.Headers = make([]string, 0, min(n, 64))
	for range n {
		h, err := d.string()
		if err != nil {
			return err
		}
		p.Headers = append(p.Headers, h)
	}
	return nil
}
