package collector

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawServer serves h through NewServer on a WrapListener and returns its
// address and what the handler saw (method path, body) in order.
func rawServer(t *testing.T) (addr string, seen func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := NewServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		w.Write([]byte("ok"))
	}), DefaultConfig())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(WrapListener(ln, DefaultConfig().Limits))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// sendRaw writes the chunks with a pause between them (so a header block
// arrives in pieces) and reads every response until the server closes.
func sendRaw(t *testing.T, addr string, chunks ...string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		for _, ch := range chunks {
			c.Write([]byte(ch))
			time.Sleep(20 * time.Millisecond)
		}
	}()
	br := bufio.NewReader(c)
	var out []*http.Response
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return out
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, resp)
		if resp.Close {
			return out
		}
	}
}

// TestFramingRefusesContentLengthWithTransferEncoding: on one keep-alive
// connection, a normal POST (Content-Length body that looks like headers)
// is served; the next request, with both Content-Length and
// Transfer-Encoding (fields in any case, split across writes), is refused
// with 400 and the connection closed, so the request smuggled after it is
// never served.
func TestFramingRefusesContentLengthWithTransferEncoding(t *testing.T) {
	addr, seen := rawServer(t)
	body := "x\r\nTransfer-Encoding: chunked\r\n\r\n" // a body, not headers
	first := "POST /first HTTP/1.1\r\nHost: x\r\ncontent-length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	second := "POST /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nHost: x\r\nTRANSFER-ENCODING: chunked\r\nContent-"
	rest := "Length: 5\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	resps := sendRaw(t, addr, first, second, rest)
	if len(resps) != 2 {
		t.Fatalf("%d responses, want 2 (the normal POST, then the refusal)", len(resps))
	}
	if resps[0].StatusCode != http.StatusOK {
		t.Errorf("normal POST: %d, want 200", resps[0].StatusCode)
	}
	if resps[1].StatusCode != http.StatusBadRequest || !resps[1].Close {
		t.Errorf("Content-Length + Transfer-Encoding: %d (close %v), want 400 and the connection closed", resps[1].StatusCode, resps[1].Close)
	}
	if got := seen(); len(got) != 1 || got[0] != "POST /first "+body {
		t.Errorf("handler saw %q, want only the first POST with its body", got)
	}
}

// TestFramingLeavesOrdinaryRequestsAlone: pipelined Content-Length
// requests, a bodiless GET, and a chunked POST without Content-Length are
// all served as net/http reads them.
func TestFramingLeavesOrdinaryRequestsAlone(t *testing.T) {
	addr, seen := rawServer(t)
	resps := sendRaw(t, addr,
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\nHost: x\n\n",
		"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n")
	want := []string{"POST /a abc", "GET /b ", "POST /c xyz"}
	if got := seen(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("handler saw %q, want %q", got, want)
	}
	for i, r := range resps {
		if r.StatusCode != http.StatusOK {
			t.Errorf("response %d: %d, want 200", i, r.StatusCode)
		}
	}
}

// FuzzFraming: whatever bytes arrive, the framing connection passes them
// through unchanged except for renamed Content-Length field names (same
// length), and never panics.
func FuzzFraming(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\nHost: x\n\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"))
	f.Add([]byte("\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		go func() { a.Write(in); a.Close() }()
		fc := &framingConn{Conn: b, maxHeader: 256} // small: the pass-through of unfinished blocks too
		var out bytes.Buffer
		buf := make([]byte, 7) // small reads: every boundary case
		for {
			n, err := fc.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got := out.Bytes()
		if len(got) != len(in) {
			t.Fatalf("%d bytes out, %d in", len(got), len(in))
		}
		for i := range in {
			if got[i] != in[i] && !bytes.Contains(got[max(0, i-len(smuggleMarker)):min(len(got), i+len(smuggleMarker))], []byte(smuggleMarker)) {
				t.Fatalf("byte %d changed outside a renamed field: %q -> %q", i, in[i], got[i])
			}
		}
	})
}

// TestUnfinishedHeaderBlockIsBounded: a connection whose header block goes
// on past max_header_bytes (plus net/http's slack) without ending is
// answered 431 at once; the framing layer does not keep buffering it
// (it used to hold up to 1 MiB per connection until the header timeout).
func TestUnfinishedHeaderBlockIsBounded(t *testing.T) {
	addr, seen := rawServer(t)
	limit := DefaultConfig().Limits.MaxHeaderBytes
	resps := sendRaw(t, addr, "GET /i HTTP/1.1\r\nHost: x\r\nX-Long: "+strings.Repeat("a", limit+2*headerSlack))
	if len(resps) != 1 || resps[0].StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("got %d responses (%v), want one 431", len(resps), resps)
	}
	if got := seen(); len(got) != 0 {
		t.Errorf("handler saw %q", got)
	}
}

// TestMaxConnectionsWaitInBacklog: with max_connections connections open,
// a new one is not served until one of them closes, then it is.
func TestMaxConnectionsWaitInBacklog(t *testing.T) {
	limits := DefaultConfig().Limits
	limits.MaxConnections = 2
	srv := NewServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }), DefaultConfig())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(WrapListener(ln, limits))
	t.Cleanup(func() { srv.Close() })
	var held []net.Conn
	for range limits.MaxConnections {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A served request proves the connection was accepted.
		c.Write([]byte("GET /held HTTP/1.1\r\nHost: x\r\n\r\n"))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d: %v %v", len(held), resp, err)
		}
		held = append(held, c)
	}
	c, err := net.Dial("tcp", ln.Addr().String()) // the kernel completes the handshake
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /waiting HTTP/1.1\r\nHost: x\r\n\r\n"))
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if resp, err := http.ReadResponse(br, nil); err == nil {
		t.Fatalf("served %d past max_connections", resp.StatusCode)
	}
	held[0].Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after a connection closed: %v %v, want 200", resp, err)
	}
}
