// Package iglu resolves Iglu schemas from an ordered list of registries
// (local directories in the static-registry layout, HTTP static registries
// such as Iglu Central, and the schemas embedded in the binary) and
// validates self-describing JSON against them, caching compiled schemas.
package iglu

import (
	"fmt"
	"strconv"
	"strings"
)

// SchemaKey identifies one schema: iglu:vendor/name/format/model-revision-addition.
type SchemaKey struct {
	Vendor, Name, Format      string
	Model, Revision, Addition int
}

// ParseURI parses an Iglu URI such as
// "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0".
func ParseURI(uri string) (SchemaKey, error) {
	rest, ok := strings.CutPrefix(uri, "iglu:")
	if !ok {
		return SchemaKey{}, fmt.Errorf("iglu URI %q does not start with iglu:", clip(uri, 128))
	}
	vendor, rest, ok1 := strings.Cut(rest, "/")
	name, rest, ok2 := strings.Cut(rest, "/")
	format, version, ok3 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !ok3 || strings.IndexByte(version, '/') >= 0 {
		return SchemaKey{}, fmt.Errorf("iglu URI %q is not iglu:vendor/name/format/version", clip(uri, 128))
	}
	k := SchemaKey{Vendor: vendor, Name: name, Format: format}
	if !validPart(k.Vendor, true) || !validPart(k.Name, false) || !validPart(k.Format, false) {
		return SchemaKey{}, fmt.Errorf("iglu URI %q has an invalid vendor, name or format", clip(uri, 128))
	}
	v, err := ParseSchemaVer(version)
	if err != nil {
		return SchemaKey{}, fmt.Errorf("iglu URI %q: %w", clip(uri, 128), err)
	}
	k.Model, k.Revision, k.Addition = v[0], v[1], v[2]
	return k, nil
}

// ErrSchemaVer marks an Iglu URI whose version is not MODEL-REVISION-ADDITION.
type ErrSchemaVer struct{ Version string }

// Error implements error.
func (e ErrSchemaVer) Error() string {
	return fmt.Sprintf("schema version %q is not MODEL-REVISION-ADDITION (e.g. 1-0-0)", clip(e.Version, 64))
}

// ParseSchemaVer parses a SchemaVer such as "1-0-2".
func ParseSchemaVer(s string) ([3]int, error) {
	var v [3]int
	rest := s
	for i := range v {
		part := rest
		if i < 2 {
			var ok bool
			part, rest, ok = strings.Cut(rest, "-")
			if !ok {
				return v, ErrSchemaVer{s}
			}
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || part[0] == '+' || (len(part) > 1 && part[0] == '0') || len(part) > 6 {
			return v, ErrSchemaVer{s}
		}
		v[i] = n
	}
	if v[0] == 0 {
		return v, ErrSchemaVer{s}
	}
	return v, nil
}

// validPart checks a URI segment against Iglu's character set
// ([a-zA-Z0-9-_] plus '.' in vendors), which also keeps paths built from
// it inside the registry (no "..", no slashes).
func validPart(s string, vendor bool) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.' && vendor:
		default:
			return false
		}
	}
	return !strings.Contains(s, "..")
}

// smallVersions holds every SchemaVer of single-digit parts, rendered
// once: nearly every schema in use has one, and Version runs per event.
var smallVersions = func() (t [1000]string) {
	for i := range t {
		t[i] = string([]byte{byte('0' + i/100), '-', byte('0' + i/10%10), '-', byte('0' + i%10)})
	}
	return t
}()

// Version returns the SchemaVer, e.g. "1-0-0".
func (k SchemaKey) Version() string {
	if uint(k.Model) < 10 && uint(k.Revision) < 10 && uint(k.Addition) < 10 {
		return smallVersions[k.Model*100+k.Revision*10+k.Addition]
	}
	return string(k.appendVersion(nil))
}

func (k SchemaKey) appendVersion(b []byte) []byte {
	b = strconv.AppendInt(b, int64(k.Model), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(k.Revision), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(k.Addition), 10)
}

// Path returns the key's path below a static registry's schemas/ directory.
func (k SchemaKey) Path() string {
	var buf [128]byte // one allocation, the result, for common keys
	b := append(buf[:0], k.Vendor...)
	b = append(b, '/')
	b = append(b, k.Name...)
	b = append(b, '/')
	b = append(b, k.Format...)
	b = append(b, '/')
	return string(k.appendVersion(b))
}

// clone copies the key's strings, which may be slices of a larger input.
func (k SchemaKey) clone() SchemaKey {
	k.Vendor, k.Name, k.Format = strings.Clone(k.Vendor), strings.Clone(k.Name), strings.Clone(k.Format)
	return k
}

// String returns the Iglu URI.
func (k SchemaKey) String() string { return "iglu:" + k.Path() }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
