package collector

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"

	"golang.org/x/net/netutil"
)

// A request with both Content-Length and Transfer-Encoding is how requests
// are smuggled past a proxy that reads the other length; RFC 9112 §6.3
// says to treat it as an error and close the connection. net/http reads
// such a body as chunked and deletes Content-Length before a handler runs,
// so the handler cannot tell. WrapListener's connections read each
// request's header block before net/http does and, when it holds both
// fields, rename every Content-Length field to smuggleMarker (same length,
// so nothing else moves); the handler then refuses the request with 400
// and closes the connection.

// smuggleMarker replaces the name of a Content-Length field that came with
// a Transfer-Encoding. Exactly as long as "Content-Length".
const smuggleMarker = "Plowline-Cl-Te"

// headerSlack is what net/http reads of a request beyond MaxHeaderBytes
// before it answers 431 (its request line allowance).
const headerSlack = 4096

// WrapListener returns ln as the collector serves it: at most
// limits.max_connections connections at once (past it, new connections
// wait in the kernel's backlog until one closes, as at Snowplow's
// collector's networking.maxConnections), each of whose requests is
// marked when it carries both Content-Length and Transfer-Encoding, so the
// collector's server refuses it (400, connection closed). A connection
// buffers at most limits.max_header_bytes plus net/http's slack of an
// unfinished header block; past that the bytes pass through and net/http
// answers 431. Together with read_header_timeout this bounds what slow or
// hostile clients can make the collector hold: max_connections × about
// max_header_bytes.
func WrapListener(ln net.Listener, l LimitsConfig) net.Listener {
	if l.MaxConnections > 0 {
		ln = netutil.LimitListener(ln, l.MaxConnections)
	}
	return framingListener{Listener: ln, maxHeader: l.MaxHeaderBytes + headerSlack}
}

type framingListener struct {
	net.Listener
	maxHeader int // bytes of an unfinished header block a connection buffers
}

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c, maxHeader: l.maxHeader}, nil
}

// Connection states: reading a header block, passing a Content-Length body
// through, or passing everything through (after a Transfer-Encoding
// request, the last one served on the connection, or a block too odd to
// frame, which net/http refuses).
const (
	frameHeader = iota
	frameBody
	framePass
)

// framingConn follows HTTP/1.1 request framing on a connection: header
// block, then Content-Length bytes of body, then the next header block.
type framingConn struct {
	net.Conn
	maxHeader int
	mu        sync.Mutex // net/http may read from a background goroutine
	state     int
	bodyLeft  int64
	in        []byte // read from the connection, not yet framed (a partial header block)
	out       []byte // framed, not yet returned
	buf       [4096]byte
}

func (c *framingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		switch c.state {
		case framePass:
			if len(c.in) > 0 {
				c.out, c.in = c.in, nil
				continue
			}
			return c.Conn.Read(p)
		case frameBody:
			if len(c.in) > 0 {
				n := int(min(int64(len(c.in)), c.bodyLeft))
				c.out, c.in = c.in[:n:n], c.in[n:]
				c.advanceBody(int64(n))
				continue
			}
			n, err := c.Conn.Read(p[:min(int64(len(p)), c.bodyLeft)])
			c.advanceBody(int64(n))
			return n, err
		}
		// frameHeader: frame what we have, else read more.
		if c.frameHeader() {
			continue
		}
		n, err := c.Conn.Read(c.buf[:])
		c.in = append(c.in, c.buf[:n]...)
		if err == nil || c.frameHeader() {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// A deadline (net/http aborting its background read, or a
			// slow client): what we hold stays for the next Read.
			return 0, err
		}
		if len(c.in) == 0 {
			return 0, err
		}
		// The connection ended mid-block: hand over what came, unframed
		// (net/http refuses it); the next Read returns the error again.
		c.out, c.in, c.state = c.in, nil, framePass
	}
}

func (c *framingConn) advanceBody(n int64) {
	c.bodyLeft -= n
	if c.bodyLeft <= 0 {
		c.state = frameHeader
	}
}

// frameHeader moves one complete header block from in to out (marked if
// it holds both length fields) and sets the state for what follows. It
// reports whether it moved anything.
func (c *framingConn) frameHeader() bool {
	if len(c.in) == 0 {
		return false
	}
	end := headerEnd(c.in)
	if end < 0 {
		if len(c.in) > c.maxHeader {
			c.out, c.in, c.state = c.in, nil, framePass
			return true
		}
		return false
	}
	block := c.in[:end:end]
	c.in = c.in[end:]
	c.out = block
	cl, hasCL, hasTE, ok := markSmuggling(block)
	switch {
	case !ok || hasTE:
		// A chunked body ends its connection (the handler closes it), and
		// a block net/http will refuse ends it too: no need to frame more.
		c.state = framePass
	case hasCL && cl > 0:
		c.state, c.bodyLeft = frameBody, cl
	}
	return true
}

// headerEnd returns the offset just past the empty line ending the header
// block at the start of b (lines end in LF, optionally CRLF, as net/http
// reads them), or -1 if b does not hold it yet.
func headerEnd(b []byte) int {
	i := 0
	for first := true; ; first = false {
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			return -1
		}
		line := b[i : i+nl]
		i += nl + 1
		if !first && (len(line) == 0 || (len(line) == 1 && line[0] == '\r')) {
			return i // the empty line after the request line and fields
		}
	}
}

// markSmuggling reads a header block's length fields and, when both
// Content-Length and Transfer-Encoding are present, renames every
// Content-Length field to smuggleMarker in place. ok is false when the
// Content-Length cannot be framed (net/http refuses such a request).
func markSmuggling(block []byte) (cl int64, hasCL, hasTE, ok bool) {
	lines := bytes.Split(block, []byte("\n"))
	var clNames [][]byte
	for _, line := range lines[1:] {
		line = bytes.TrimSuffix(line, []byte("\r"))
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if !hasCL {
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 {
					return 0, true, hasTE, false
				}
				cl = n
			}
			hasCL = true
			clNames = append(clNames, name)
		case asciiEqualFold(name, "Transfer-Encoding"):
			hasTE = true
		}
	}
	if hasCL && hasTE {
		for _, n := range clNames {
			copy(n, smuggleMarker)
		}
	}
	return cl, hasCL, hasTE, true
}

// asciiEqualFold compares b with s ignoring ASCII case only (Unicode
// folding would let non-token bytes match).
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
