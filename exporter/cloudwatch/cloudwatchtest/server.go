// Package cloudwatchtest is a wire-level double of CloudWatch's
// GetMetricData for tests: an httptest server on 127.0.0.1 that decodes
// the real Go SDK's signed Smithy RPC v2 CBOR requests, serves datapoints
// from a generator function, paginates by MaxDatapoints with NextToken,
// and on demand throttles, rejects credentials, answers a metric
// partially or refuses it. Point the SDK client's BaseEndpoint at URL.
package cloudwatchtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Server is the double. Its methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint to give the SDK client (BaseEndpoint).
	URL string
	srv *httptest.Server

	mu sync.Mutex
	// value is the datapoint of metric key for the period starting at ts;
	// ok=false means CloudWatch has no datapoint there.
	value func(key string, ts time.Time) (float64, bool)
	// throttle answers the next n requests with a throttling error
	// (status 400 "Throttling", or 429 if throttle429).
	throttle    int
	throttle429 bool
	// deny answers every request 403 UnrecognizedClientException.
	deny bool
	// partial keeps only the newest n datapoints of a key, status
	// PartialData, no NextToken for it.
	partial map[string]int
	// status answers a key with this StatusCode and no data (e.g. Forbidden).
	status map[string]string

	calls            int
	metricsRequested int
	requests         []Request
}

// Request is what one GetMetricData call asked for.
type Request struct {
	Start, End    time.Time
	Queries       int
	MaxDatapoints int64
	Token         string
	Throttled     bool
	// AccountIDs are the AccountId of each query ("" for none), in order.
	AccountIDs []string
}

type query struct {
	id, key, account string
	period           int64
}

var idPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// NewServer starts the double; value gives the datapoint of a metric
// (named by Key) for the period starting at ts, or false for none. The
// server stops when the test ends.
func NewServer(t testing.TB, value func(key string, ts time.Time) (float64, bool)) *Server {
	f := &Server{value: value, partial: map[string]int{}, status: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Close stops the server (to test an unreachable endpoint).
func (f *Server) Close() { f.srv.Close() }

// Throttle answers the next n calls with a throttling error: HTTP 400
// Throttling "Rate exceeded", or HTTP 429 TooManyRequestsException.
func (f *Server) Throttle(n int, status429 bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle, f.throttle429 = n, status429
}

// Deny makes every call fail with HTTP 403 UnrecognizedClientException.
func (f *Server) Deny(deny bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deny = deny
}

// Partial answers the metric key with only its newest keep datapoints,
// status PartialData and no NextToken for it.
func (f *Server) Partial(key string, keep int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.partial[key] = keep
}

// Status answers the metric key with this StatusCode (e.g. Forbidden) and
// no data.
func (f *Server) Status(key, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[key] = code
}

// Calls is the number of GetMetricData calls received, and
// MetricsRequested the queries of the calls answered with data (what AWS
// bills).
func (f *Server) Calls() (calls, metricsRequested int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.metricsRequested
}

// Requests lists every call received.
func (f *Server) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	const path = "/service/GraniteServiceVersion20100801/operation/GetMetricData"
	if r.Method != http.MethodPost || r.URL.Path != path {
		f.fail(w, 404, "UnknownOperationException", fmt.Sprintf("%s %s", r.Method, r.URL.Path))
		return
	}
	if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || r.Header.Get("Content-Type") != "application/cbor" {
		f.fail(w, 400, "SerializationException", "not rpc-v2-cbor: "+r.Header.Get("Content-Type"))
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=") || !strings.Contains(auth, "/monitoring/aws4_request") {
		f.fail(w, 403, "MissingAuthenticationToken", "request not signed for monitoring: "+auth)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.fail(w, 400, "SerializationException", err.Error())
		return
	}
	v, err := cbor.Decode(body)
	if err != nil {
		f.fail(w, 400, "SerializationException", "decoding CBOR: "+err.Error())
		return
	}
	in, ok := v.(cbor.Map)
	if !ok {
		f.fail(w, 400, "SerializationException", fmt.Sprintf("body is %T", v))
		return
	}
	start, err1 := cbor.AsTime(in["StartTime"])
	end, err2 := cbor.AsTime(in["EndTime"])
	if err1 != nil || err2 != nil {
		f.fail(w, 400, "ValidationError", fmt.Sprintf("StartTime/EndTime: %v %v", err1, err2))
		return
	}
	start, end = start.UTC(), end.UTC()
	maxPoints := int64(100800)
	if m, ok := in["MaxDatapoints"]; ok {
		if maxPoints, err = cbor.AsInt64(m); err != nil {
			f.fail(w, 400, "ValidationError", "MaxDatapoints: "+err.Error())
			return
		}
	}
	if s, _ := in["ScanBy"].(cbor.String); s != "TimestampDescending" {
		f.fail(w, 400, "ValidationError", "test double serves only ScanBy TimestampDescending, got "+string(s))
		return
	}
	token, _ := in["NextToken"].(cbor.String)
	list, _ := in["MetricDataQueries"].(cbor.List)
	if len(list) == 0 || len(list) > 500 {
		f.fail(w, 400, "ValidationError", fmt.Sprintf("%d MetricDataQueries; 1..500 allowed", len(list)))
		return
	}
	var queries []query
	for _, qv := range list {
		q, err := decodeQuery(qv)
		if err != nil {
			f.fail(w, 400, "ValidationError", err.Error())
			return
		}
		if start.Unix()%q.period != 0 || end.Unix()%q.period != 0 {
			f.fail(w, 400, "ValidationError", fmt.Sprintf("StartTime %s/EndTime %s not aligned to period %d", start, end, q.period))
			return
		}
		queries = append(queries, q)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	req := Request{Start: start, End: end, Queries: len(queries), MaxDatapoints: maxPoints, Token: string(token)}
	for _, q := range queries {
		req.AccountIDs = append(req.AccountIDs, q.account)
	}
	switch {
	case f.deny:
		f.requests = append(f.requests, req)
		f.fail(w, 403, "com.amazon.coral.service#UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	case f.throttle > 0:
		f.throttle--
		req.Throttled = true
		f.requests = append(f.requests, req)
		if f.throttle429 {
			f.fail(w, 429, "TooManyRequestsException", "Rate exceeded")
		} else {
			f.fail(w, 400, "com.amazon.coral.availability#Throttling", "Rate exceeded")
		}
		return
	}
	f.requests = append(f.requests, req)
	f.metricsRequested += len(queries)

	// Flatten every query's datapoints, newest first, and serve the page
	// starting at the token's offset.
	type point struct {
		q  int
		ts time.Time
		v  float64
	}
	var all []point
	total := make([]int, len(queries))
	for i, q := range queries {
		if _, bad := f.status[q.key]; bad {
			continue
		}
		keep := -1
		if n, ok := f.partial[q.key]; ok {
			keep = n
		}
		p := time.Duration(q.period) * time.Second
		for ts := end.Add(-p); !ts.Before(start); ts = ts.Add(-p) {
			if keep == 0 {
				break
			}
			if v, ok := f.value(q.key, ts); ok {
				all = append(all, point{i, ts, v})
				total[i]++
				keep--
			}
		}
	}
	off := 0
	if token != "" {
		if off, err = strconv.Atoi(strings.TrimPrefix(string(token), "page-")); err != nil || off > len(all) {
			f.fail(w, 400, "InvalidNextToken", "bad token "+string(token))
			return
		}
	}
	hi := min(off+int(maxPoints), len(all))
	page := all[off:hi]
	served := make([]int, len(queries))
	for _, p := range all[:hi] {
		served[p.q]++
	}
	results := make([]cbor.List, len(queries))
	values := make([]cbor.List, len(queries))
	for _, p := range page {
		results[p.q] = append(results[p.q], &cbor.Tag{ID: 1, Value: cbor.Float64(float64(p.ts.Unix()))})
		values[p.q] = append(values[p.q], cbor.Float64(p.v))
	}
	var out cbor.List
	for i, q := range queries {
		res := cbor.Map{"Id": cbor.String(q.id), "Label": cbor.String(q.key)}
		switch st, bad := f.status[q.key]; {
		case bad:
			res["StatusCode"] = cbor.String(st)
			res["Messages"] = cbor.List{cbor.Map{"Code": cbor.String(st), "Value": cbor.String("no access to " + q.key)}}
		case served[i] < total[i]:
			res["StatusCode"] = cbor.String("PartialData")
		case isPartial(f.partial, q.key):
			res["StatusCode"] = cbor.String("PartialData")
		default:
			res["StatusCode"] = cbor.String("Complete")
		}
		res["Timestamps"] = append(cbor.List{}, results[i]...)
		res["Values"] = append(cbor.List{}, values[i]...)
		out = append(out, res)
	}
	resp := cbor.Map{"MetricDataResults": out, "Messages": cbor.List{}}
	if hi < len(all) {
		resp["NextToken"] = cbor.String("page-" + strconv.Itoa(hi))
	}
	f.write(w, 200, resp)
}

func decodeQuery(v cbor.Value) (query, error) {
	m, ok := v.(cbor.Map)
	if !ok {
		return query{}, fmt.Errorf("query is %T", v)
	}
	id, _ := m["Id"].(cbor.String)
	if !idPattern.MatchString(string(id)) {
		return query{}, fmt.Errorf("Id %q does not match %s", id, idPattern)
	}
	ms, _ := m["MetricStat"].(cbor.Map)
	metric, _ := ms["Metric"].(cbor.Map)
	ns, _ := metric["Namespace"].(cbor.String)
	name, _ := metric["MetricName"].(cbor.String)
	stat, _ := ms["Stat"].(cbor.String)
	period, err := cbor.AsInt64(ms["Period"])
	if ns == "" || name == "" || stat == "" || err != nil || period <= 0 {
		return query{}, fmt.Errorf("query %s: incomplete MetricStat %v", id, ms)
	}
	dims := map[string]string{}
	dl, _ := metric["Dimensions"].(cbor.List)
	for _, dv := range dl {
		d, _ := dv.(cbor.Map)
		n, _ := d["Name"].(cbor.String)
		val, _ := d["Value"].(cbor.String)
		dims[string(n)] = string(val)
	}
	account, _ := m["AccountId"].(cbor.String)
	return query{id: string(id), key: Key(string(ns), string(name), dims, string(stat)), period: period, account: string(account)}, nil
}

// Key names a metric and statistic the way value, Partial and Status
// refer to it: Namespace/MetricName{Dim=value,...} Stat, dimensions sorted.
func Key(ns, name string, dims map[string]string, stat string) string {
	var parts []string
	for k, v := range dims {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return ns + "/" + name + "{" + strings.Join(parts, ",") + "} " + stat
}

func (f *Server) fail(w http.ResponseWriter, status int, typ, msg string) {
	f.write(w, status, cbor.Map{"__type": cbor.String(typ), "message": cbor.String(msg)})
}

func (f *Server) write(w http.ResponseWriter, status int, v cbor.Value) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(status)
	w.Write(cbor.Encode(v))
}

func isPartial(m map[string]int, key string) bool {
	_, ok := m[key]
	return ok
}
