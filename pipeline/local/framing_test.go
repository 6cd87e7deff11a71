package local

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRunRefusesContentLengthWithTransferEncoding: the collector plowline
// run serves answers a request carrying both Content-Length and
// Transfer-Encoding with 400 and closes the connection (RFC 9112 §6.3),
// so the request smuggled after its chunked body is never served.
func TestRunRefusesContentLengthWithTransferEncoding(t *testing.T) {
	p, err := Start(testConfig(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	c, err := net.Dial("tcp", strings.TrimPrefix(p.Info().CollectorURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	body := `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"t"}]}`
	fmt.Fprintf(c, "POST /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\nGET /i?e=pv&p=web&tv=smuggled HTTP/1.1\r\nHost: x\r\n\r\n", len(body), body)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Errorf("answered %d (close %v), want 400 and the connection closed", resp.StatusCode, resp.Close)
	}
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Error("a second response came on the same connection: the smuggled request was served")
	}
}
