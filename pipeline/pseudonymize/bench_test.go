package pseudonymize

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/plowline/plowline/pipeline/event"
)

// gitlabContext is a GitLab-style standard context as the Rails and
// JavaScript trackers attach it to every event.
const gitlabContext = `{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":"production","source":"gitlab-rails","plan":"ultimate","extra":{"label":"merge_request_widget","property":"approve","value":3},"user_id":"4b2e9d1f0c3a","global_user_id":"a5f1e2d3c4b5","is_gitlab_team_member":false,"project_id":278964,"namespace_id":9970,"ultimate_parent_namespace_id":9970,"feature_enabled_by_namespace_ids":[9970,6543],"google_analytics_id":"GA1.2.1234567890.1700000000","context_generated_at":"2026-11-26T13:45:12.123Z","realm":"saas","instance_id":"c1a2b3d4-e5f6-7890-abcd-ef1234567890","instance_version":"18.6.0","host_name":"gitlab.com","correlation_id":"01JDXYZ1234567890ABCDEF","deployment_type":".com"}}`

// benchLine is the conformance event with the GitLab standard context
// added to its contexts.
func benchLine(tb testing.TB) []byte {
	tb.Helper()
	e, err := event.Parse(string(conformanceLine(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	ctx := e[event.Contexts]
	e[event.Contexts] = ctx[:len(ctx)-2] + "," + gitlabContext + "]}"
	line := e.AppendTSV(nil)
	if _, err := event.Parse(string(line)); err != nil {
		tb.Fatal(err)
	}
	return line
}

const gitlabContextTemplate = `{"schema":"iglu:com.gitlab/gitlab_standard/jsonschema/1-0-9","data":{"environment":"production","source":"gitlab-rails","plan":"ultimate","extra":{"label":"%s","property":"approve","value":%d},"user_id":"%s","global_user_id":"g%s","is_gitlab_team_member":false,"project_id":%d,"namespace_id":%d,"ultimate_parent_namespace_id":%d,"feature_enabled_by_namespace_ids":[%d,6543],"google_analytics_id":"GA1.2.%d","context_generated_at":"2026-11-26T13:45:12.123Z","realm":"saas","instance_id":"c1a2b3d4-e5f6-7890-abcd-ef1234567890","instance_version":"18.6.0","host_name":"gitlab.com","correlation_id":"%016x","deployment_type":".com"}}`

// benchCorpus is a batch of n events shaped like benchLine, with the
// recurrence of a real stream: 300 users (ids, IP, geo, session), 100 pages,
// 500 projects in 100 namespaces, and per-event unique event and
// correlation ids.
func benchCorpus(tb testing.TB, n int) [][]byte {
	base, err := event.Parse(string(conformanceLine(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	ctx := base[event.Contexts]
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		e := base
		u, pg, proj := r.IntN(300), r.IntN(100), r.IntN(500)
		ns := proj % 100
		e[event.EventID] = fmt.Sprintf("%08x-b53a-4b13-a233-%012x", i, r.Uint64()&0xffffffffffff)
		e[event.UserID] = fmt.Sprintf("user%d@example.com", u)
		e[event.DomainUserID] = fmt.Sprintf("%016x", uint64(u)*0x9e3779b97f4a7c15)
		e[event.NetworkUserID] = fmt.Sprintf("ecdff4d0-9175-40ac-a8bb-%012x", u)
		e[event.UserIPAddress] = fmt.Sprintf("92.231.%d.%d", u/250, u%250)
		e[event.UserFingerprint] = fmt.Sprint(2161814971 + u)
		e[event.DomainSessionID] = fmt.Sprintf("2b15e5c8-d3b1-11e4-b9d6-%012x", u)
		e[event.GeoCity] = fmt.Sprintf("City %d", u%40)
		e[event.GeoZipcode] = fmt.Sprint(94100 + u%40)
		e[event.PageURL] = fmt.Sprintf("http://www.snowplowanalytics.com/product/%d.html?id=GTM-DLRG#4-conclusion", pg)
		e[event.PageURLPath] = fmt.Sprintf("/product/%d.html", pg)
		e[event.PageTitle] = fmt.Sprintf("On Analytics, part %d", pg)
		e[event.Contexts] = ctx[:len(ctx)-2] + "," + fmt.Sprintf(gitlabContextTemplate,
			[]string{"merge_request_widget", "issue_sidebar", "pipeline_graph", "search"}[r.IntN(4)], r.IntN(5),
			fmt.Sprint(4000+u), fmt.Sprint(4000+u), 278000+proj, 9000+ns, 9000+ns, 9000+ns, 1700000000+u, r.Uint64()) + "]}"
		out[i] = e.AppendTSV(nil)
	}
	return out
}

// freshCorrelationID overwrites the correlation id of a benchCorpus line
// with a never-seen value, so that cycling through the batch does not let
// the pseudonym cache remember values a real stream never repeats.
func freshCorrelationID(line []byte, n uint64) {
	const marker = `"correlation_id":"`
	i := bytes.Index(line, []byte(marker)) + len(marker)
	const digits = "0123456789abcdef"
	for j := 15; j >= 0; j-- {
		line[i+j] = digits[n&15]
		n >>= 4
	}
}

// The three benchmarks below run over the same 4096-event batch; compare
// their ns/op in one run (events/s = 1e9 / ns/op):
//   - BenchmarkHMACOnly: only the HMAC-SHA256 + hex of every value Transform
//     pseudonymizes, with the HMAC state reused — the floor;
//   - BenchmarkTransformNoCache: the full transform, pseudonym cache off
//     (the same number of HMACs as HMACOnly);
//   - BenchmarkTransform: the full transform as deployed (cache on).

func benchTransform(b *testing.B, noMemo bool) {
	p := mustNew(b, "bench-key-0123456789abcdef0123456789")
	p.noMemo = noMemo
	corpus := benchCorpus(b, 4096)
	var size int
	for _, l := range corpus {
		size += len(l)
	}
	dst := make([]byte, 0, 16<<10)
	b.SetBytes(int64(size / len(corpus)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var err error
		line := corpus[i&4095]
		freshCorrelationID(line, uint64(i)|1<<60)
		if dst, err = p.Transform(dst[:0], line); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkTransform(b *testing.B)        { benchTransform(b, false) }
func BenchmarkTransformNoCache(b *testing.B) { benchTransform(b, true) }

func BenchmarkHMACOnly(b *testing.B) {
	key := []byte("bench-key-0123456789abcdef0123456789")
	p := mustNew(b, string(key))
	corpus := benchCorpus(b, 4096)
	values := make([][][]byte, len(corpus))
	var total int
	for i, line := range corpus {
		p.trace = func(v []byte) { values[i] = append(values[i], append([]byte(nil), v...)) }
		if _, err := p.Transform(nil, line); err != nil {
			b.Fatal(err)
		}
		total += len(values[i])
	}
	mac := hmac.New(sha256.New, key)
	var sum [sha256.Size]byte
	dst := make([]byte, 0, 64*64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = dst[:0]
		for _, v := range values[i&4095] {
			mac.Reset()
			mac.Write(v)
			dst = hex.AppendEncode(dst, mac.Sum(sum[:0]))
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(total)/float64(len(corpus)), "hmacs/event")
}

// BenchmarkTransformSameEvent repeats one event (every value a cache hit
// after the first): the cost of the walk alone.
func BenchmarkTransformSameEvent(b *testing.B) {
	p := mustNew(b, "bench-key-0123456789abcdef0123456789")
	line := benchLine(b)
	dst := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = p.Transform(dst[:0], line); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSideBySide interleaves the three workloads in blocks of 64
// events over the same batch and measures each block with the thread's CPU
// clock (CLOCK_THREAD_CPUTIME_ID), so other processes competing for the
// cores do not inflate one workload against another. It reports each
// one's CPU ns/event, the events/s one core sustains, and the ratios to the
// HMAC-only floor.
func BenchmarkSideBySide(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	key := []byte("bench-key-0123456789abcdef0123456789")
	cached, uncached := mustNew(b, string(key)), mustNew(b, string(key))
	uncached.noMemo = true
	corpus := benchCorpus(b, 4096)
	values := make([][][]byte, len(corpus))
	tracer := mustNew(b, string(key))
	for i, line := range corpus {
		tracer.trace = func(v []byte) { values[i] = append(values[i], append([]byte(nil), v...)) }
		if _, err := tracer.Transform(nil, line); err != nil {
			b.Fatal(err)
		}
	}
	mac := hmac.New(sha256.New, key)
	var sum [sha256.Size]byte
	dst := make([]byte, 0, 16<<10)
	var tCached, tUncached, tHMAC int64
	const block = 64
	events := 0
	next := 0
	var fresh uint64 = 1 << 60
	for b.Loop() {
		lo := next
		next = (next + block) & 4095
		for _, line := range corpus[lo : lo+block] {
			fresh++
			freshCorrelationID(line, fresh)
		}
		t0 := threadCPU(b)
		for _, line := range corpus[lo : lo+block] {
			dst, _ = cached.Transform(dst[:0], line)
		}
		t1 := threadCPU(b)
		for _, line := range corpus[lo : lo+block] {
			// The uncached run cannot profit from repeats anyway.
			dst, _ = uncached.Transform(dst[:0], line)
		}
		t2 := threadCPU(b)
		for _, vs := range values[lo : lo+block] {
			dst = dst[:0]
			for _, v := range vs {
				mac.Reset()
				mac.Write(v)
				dst = hex.AppendEncode(dst, mac.Sum(sum[:0]))
			}
		}
		t3 := threadCPU(b)
		tCached += t1 - t0
		tUncached += t2 - t1
		tHMAC += t3 - t2
		events += block
	}
	per := func(d int64) float64 { return float64(d) / float64(events) }
	b.ReportMetric(per(tCached), "transform-cpu-ns/event")
	b.ReportMetric(per(tUncached), "nocache-cpu-ns/event")
	b.ReportMetric(per(tHMAC), "hmaconly-cpu-ns/event")
	b.ReportMetric(1e9/per(tCached), "transform-events/s/core")
	b.ReportMetric(1e9/per(tUncached), "nocache-events/s/core")
	b.ReportMetric(per(tCached)/per(tHMAC), "transform/hmaconly")
	b.ReportMetric(per(tUncached)/per(tHMAC), "nocache/hmaconly")
}

// threadCPU returns the CPU time the current OS thread has used, in ns.
func threadCPU(b *testing.B) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return ts.Nano()
}
