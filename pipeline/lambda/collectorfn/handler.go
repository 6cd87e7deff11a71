package collectorfn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/pipeline/stream"
)

// CollectorHandler serves the collector's HTTP handler as a Lambda function
// behind an Application Load Balancer (events.ALBTargetGroupRequest) or a
// Lambda function URL (events.LambdaFunctionURLRequest); it tells the two
// event shapes apart itself and answers in the same shape. After each
// invocation it writes the collector's metric increments as CloudWatch
// Embedded Metric Format lines.
//
// The collector's sinks must write synchronously (KinesisPutSink): a
// function is frozen after it answers, so nothing may be left in a buffer.
type CollectorHandler struct {
	// Handler is the collector's (collector.Collector.Handler()).
	Handler http.Handler
	// Metrics is the registry the collector registered with; EMF reports
	// the increments of its counters per invocation.
	Metrics prometheus.Gatherer
	// Function is the function name, the EMF dimension (AWS_LAMBDA_FUNCTION_NAME).
	Function string
	// EMF receives the metric lines (stdout in Lambda). Nil: none.
	EMF io.Writer
	Log *slog.Logger

	mu   sync.Mutex
	prev map[string]float64 // counter values already reported
}

// eventProbe holds just enough of an event to tell its shape.
type eventProbe struct {
	Version        string `json:"version"`
	RequestContext struct {
		ELB  json.RawMessage `json:"elb"`
		HTTP json.RawMessage `json:"http"`
	} `json:"requestContext"`
}

// Handle serves one invocation. It returns an error only for an event that
// is neither an ALB nor a function-URL request; everything about the HTTP
// request itself is answered with an HTTP status.
func (h *CollectorHandler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe eventProbe
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("collector lambda: event is not a JSON object: %w", err)
	}
	defer h.emitEMF()
	switch {
	case len(probe.RequestContext.ELB) > 0:
		var ev events.ALBTargetGroupRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("collector lambda: ALB event: %w", err)
		}
		return h.serveALB(ctx, &ev), nil
	case len(probe.RequestContext.HTTP) > 0 || probe.Version == "2.0":
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("collector lambda: function URL event: %w", err)
		}
		return h.serveURL(ctx, &ev), nil
	}
	return nil, errors.New("collector lambda: unsupported event: want an ALB target-group request or a function URL request")
}

// serveALB answers an ALB request. ALB passes query parameters as the
// client sent them (still percent-encoded) and, with multi-value headers
// enabled on the target group, expects multi-value headers back.
func (h *CollectorHandler) serveALB(ctx context.Context, ev *events.ALBTargetGroupRequest) events.ALBTargetGroupResponse {
	header := http.Header{}
	for k, v := range ev.Headers {
		header.Add(k, v)
	}
	for k, vs := range ev.MultiValueHeaders {
		header.Del(k)
		for _, v := range vs {
			header.Add(k, v)
		}
	}
	var query []string
	if len(ev.MultiValueQueryStringParameters) > 0 {
		for _, k := range sortedKeys(ev.MultiValueQueryStringParameters) {
			for _, v := range ev.MultiValueQueryStringParameters[k] {
				query = append(query, queryPair(k, v))
			}
		}
	} else {
		for _, k := range sortedKeys(ev.QueryStringParameters) {
			query = append(query, queryPair(k, ev.QueryStringParameters[k]))
		}
	}
	rec := h.serve(ctx, ev.HTTPMethod, ev.Path, strings.Join(query, "&"), header, "", ev.Body, ev.IsBase64Encoded)
	body, b64 := responseBody(rec)
	resp := events.ALBTargetGroupResponse{
		StatusCode:        rec.code,
		StatusDescription: fmt.Sprintf("%d %s", rec.code, http.StatusText(rec.code)),
		Body:              body,
		IsBase64Encoded:   b64,
	}
	if ev.MultiValueHeaders != nil {
		resp.MultiValueHeaders = map[string][]string(rec.header)
	} else {
		resp.Headers = map[string]string{}
		for k, vs := range rec.header {
			resp.Headers[k] = vs[len(vs)-1] // ALB single-value mode holds one value per header
		}
	}
	return resp
}

func queryPair(k, v string) string {
	if v == "" && !strings.Contains(k, "=") {
		return k
	}
	return k + "=" + v
}

// serveURL answers a function-URL request. Function URLs take cookies out
// of the headers into their own list, both ways.
func (h *CollectorHandler) serveURL(ctx context.Context, ev *events.LambdaFunctionURLRequest) events.LambdaFunctionURLResponse {
	header := http.Header{}
	for k, v := range ev.Headers {
		header.Add(k, v)
	}
	if len(ev.Cookies) > 0 {
		header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	remote := ""
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		remote = ip + ":0"
		if strings.Contains(ip, ":") {
			remote = "[" + ip + "]:0"
		}
	}
	method := ev.RequestContext.HTTP.Method
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	rec := h.serve(ctx, method, path, ev.RawQueryString, header, remote, ev.Body, ev.IsBase64Encoded)
	body, b64 := responseBody(rec)
	resp := events.LambdaFunctionURLResponse{StatusCode: rec.code, Headers: map[string]string{}, Body: body, IsBase64Encoded: b64}
	for k, vs := range rec.header {
		if k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	return resp
}

// serve runs the collector's handler on a request built from an event.
func (h *CollectorHandler) serve(ctx context.Context, method, path, rawQuery string, header http.Header, remote, body string, b64 bool) *responseRecorder {
	rec := &responseRecorder{header: http.Header{}}
	data := []byte(body)
	if b64 {
		var err error
		if data, err = base64.StdEncoding.DecodeString(body); err != nil {
			rec.header.Set("Content-Type", "text/plain; charset=utf-8")
			rec.WriteHeader(http.StatusBadRequest)
			rec.body.WriteString("body marked base64-encoded is not valid base64")
			return rec
		}
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	u := &url.URL{Path: path, RawQuery: rawQuery}
	if p, err := url.PathUnescape(path); err == nil {
		u.Path, u.RawPath = p, path
	}
	req, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(data))
	if err != nil {
		rec.WriteHeader(http.StatusBadRequest)
		rec.body.WriteString("invalid method")
		return rec
	}
	req.URL = u
	req.RequestURI = u.RequestURI()
	req.Host = header.Get("Host")
	header.Del("Host") // as net/http's server does: the host is req.Host
	req.Header = header
	req.RemoteAddr = remote
	req.ContentLength = int64(len(data))
	h.Handler.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return rec
}

// responseBody returns the body as the event carries it: text as is,
// anything else (the pixel GIF) base64-encoded.
func responseBody(rec *responseRecorder) (string, bool) {
	ct := rec.header.Get("Content-Type")
	if rec.body.Len() == 0 || (strings.HasPrefix(ct, "text/") && utf8.Valid(rec.body.Bytes())) {
		return rec.body.String(), false
	}
	return base64.StdEncoding.EncodeToString(rec.body.Bytes()), true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// responseRecorder is a minimal http.ResponseWriter that keeps the answer.
type responseRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *responseRecorder) Header() http.Header { return r.header }

func (r *responseRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *responseRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(p)
}

// KinesisPutSink writes records synchronously with stream.PutRecords
// (batched, partial failures retried): Put returns only once every record
// is in the stream, so the Lambda collector answers 200 only for data
// Kinesis holds. Records with an empty partition key get a random one.
type KinesisPutSink struct {
	API    stream.KinesisAPI
	Stream string
	Retry  stream.RetryPolicy
}

// Put writes recs, or returns why some were not written.
func (s *KinesisPutSink) Put(ctx context.Context, recs []stream.Record) error {
	failed, err := stream.PutRecords(ctx, s.API, s.Stream, recs, s.Retry)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("kinesis stream %q: %d of %d records not written", s.Stream, len(failed), len(recs))
	}
	return nil
}

// Close does nothing: nothing is buffered.
func (s *KinesisPutSink) Close(context.Context) error { return nil }
