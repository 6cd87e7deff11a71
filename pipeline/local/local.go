// Package local assembles the whole pipeline in one process — the logic of
// `plowline run`: the collector on HTTP, in-memory streams named like
// GitLab's Kinesis streams, the enricher, the pseudonymizer on the three
// delivery paths, Firehose-like batch writers into an embedded S3 server,
// and the warehouse loader into an embedded SQL database, with every
// stage's metrics on one /metrics endpoint.
//
// Shutdown drains in pipeline order: the collector stops taking requests
// and closes the raw streams; the enricher workers empty raw-good and close
// the enriched streams; the delivery workers empty those and raw-bad; the
// batch writers flush their buffers to the object store; the loader loads
// every object they wrote. What was acknowledged to a tracker is then in
// the warehouse. A kill -9 instead loses what sat in memory (see docs/run.md).
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/collector"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/fault"
	"github.com/plowline/plowline/pipeline/lake"
	"github.com/plowline/plowline/pipeline/micro"
	"github.com/plowline/plowline/pipeline/pseudonymize"
	"github.com/plowline/plowline/pipeline/stream"
	"github.com/plowline/plowline/pipeline/windowcount"
)

// GitLab's stream names.
const (
	StreamRawGood      = "snowplow-raw-good"
	StreamRawBad       = "snowplow-raw-bad"
	StreamEnrichedGood = "snowplow-enriched-good"
	StreamEnrichedBad  = "snowplow-enriched-bad"
)

// DefaultStreamCapacityBytes is each in-memory stream's default capacity in
// bytes: a few hundred tracker batches, enough to smooth bursts at 20,000
// events/s while keeping the four streams within 32 MiB together.
const DefaultStreamCapacityBytes = 8 << 20

// DefaultMemoryLimit is the soft memory limit `plowline run` gives the Go
// runtime by default (its GOMEMLIMIT): with it the garbage collector runs
// more often as the heap nears it instead of letting the heap double. It
// is a backstop, not the bound: the limits on bodies in flight, streams
// and buffers are (docs/run.md, "Memory").
const DefaultMemoryLimit = 96 << 20

// DefaultBucket is the embedded object store's bucket, named as GitLab's.
const DefaultBucket = "gitlab-com-snowplow-events"

// Files in the data directory.
const (
	KeyFile       = "hmac.key"
	WarehouseFile = "warehouse.db"
)

// Config configures the local pipeline.
type Config struct {
	// DataDir holds the object store, the warehouse and the HMAC key.
	DataDir string
	// CollectorAddress and WebAddress are listen addresses; port 0 picks
	// a free port (tests).
	CollectorAddress string
	WebAddress       string

	Collector collector.Config
	Enrich    enrich.Config
	// Allowlist is the pseudonymizer's; nil means the default.
	Allowlist *pseudonymize.Allowlist

	Bucket         string
	BufferBytes    int64
	BufferInterval time.Duration
	// StreamCapacity is each in-memory stream's capacity in records.
	StreamCapacity int
	// AllowNewKey starts even when the HMAC key file is missing or empty
	// while the warehouse already has rows (every pseudonym changes).
	AllowNewKey bool
	// AllowEmptyObjectStore starts even when the object store is missing
	// or empty while the warehouse already has rows.
	AllowEmptyObjectStore bool
	// StreamCapacityBytes is each in-memory stream's capacity in bytes of
	// record data (what bounds memory; a record larger than it passes
	// alone). 0 means DefaultStreamCapacityBytes.
	StreamCapacityBytes int64
	// EnrichWorkers and DeliveryWorkers default to GOMAXPROCS.
	EnrichWorkers   int
	DeliveryWorkers int

	// Faults are fault-injection rules (none in a normal run), FaultSeed
	// makes their choices reproducible.
	Faults    []fault.Rule
	FaultSeed uint64

	// CountWindow is the window of the event-time counts served at
	// /metrics/windows (the exporter's window; default 1m).
	CountWindow time.Duration
	// Micro, when set, receives the enricher's output and the collector's
	// bad rows, and Snowplow Micro's API over it is served on the
	// collector's listener (see pipeline/micro and docs/micro.md).
	Micro *micro.Store
	// MicroAllowRemoteClear serves the Micro API's clear view to clients
	// on other machines too (by default: loopback only).
	MicroAllowRemoteClear bool

	Log *slog.Logger
}

// DefaultConfig returns the local defaults: collector on 127.0.0.1:8080,
// metrics on 127.0.0.1:9090, 5 MiB / 10 s batch buffers.
func DefaultConfig() Config {
	return Config{
		DataDir:             "plowline-data",
		CollectorAddress:    "127.0.0.1:8080",
		WebAddress:          "127.0.0.1:9090",
		Collector:           collector.DefaultConfig(),
		Enrich:              enrich.DefaultConfig(),
		Bucket:              DefaultBucket,
		BufferBytes:         5 << 20,
		BufferInterval:      10 * time.Second,
		StreamCapacity:      2000,
		StreamCapacityBytes: DefaultStreamCapacityBytes,
		FaultSeed:           1,
	}
}

// Info says where the running pipeline's parts are.
type Info struct {
	CollectorURL string
	MetricsURL   string
	// WindowsURL serves every node's event-time counts per window
	// (package windowcount), what the exporter reconciles.
	WindowsURL string
	// BufferInterval is the batch writers' (the exporter's settling
	// budget follows from it).
	BufferInterval time.Duration
	WebAddress     string
	DataDir        string
	S3Endpoint     string
	Bucket         string
	WarehousePath  string
	KeyPath        string
	// MicroURL is the Micro API's base (…/micro), empty when it is off.
	MicroURL string
}

// Pipeline is the running local pipeline.
type Pipeline struct {
	cfg  Config
	log  *slog.Logger
	info Info
	reg  *prometheus.Registry
	mux  *http.ServeMux
	inj  *fault.Injector
	win  *windowcount.Counts

	s3        *lake.LocalS3
	wh        *lake.Warehouse
	loader    *lake.Loader
	loaderCtx context.CancelFunc
	loaderWG  sync.WaitGroup

	coll                 *collector.Collector
	collSrv, webSrv      *http.Server
	rawGood, rawBad      *stream.Memory
	enrGood, enrBad      *stream.Memory
	enrichWG             sync.WaitGroup
	deliveries           []*delivery
	deliveryWG           sync.WaitGroup
	pseudoRecords        *prometheus.CounterVec
	shutdownOnce         sync.Once
	shutdownErr          error
	collectorErr, webErr chan error
}

// Start builds and starts every stage. On error, what was started is stopped.
func Start(cfg Config) (_ *Pipeline, err error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.StreamCapacity < 1 {
		cfg.StreamCapacity = 2000
	}
	if cfg.StreamCapacityBytes < 1 {
		cfg.StreamCapacityBytes = DefaultStreamCapacityBytes
	}
	if cfg.EnrichWorkers < 1 {
		cfg.EnrichWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.DeliveryWorkers < 1 {
		cfg.DeliveryWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.Allowlist == nil {
		cfg.Allowlist = pseudonymize.DefaultAllowlist()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %q: %w", cfg.DataDir, err)
	}
	cfg.DataDir = abs
	// p is not the named result: the stage goroutines capture it, and an
	// error return must not nil it under them.
	p := &Pipeline{cfg: cfg, log: cfg.Log, reg: prometheus.NewRegistry(), mux: http.NewServeMux(),
		collectorErr: make(chan error, 1), webErr: make(chan error, 1)}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	p.inj, err = fault.New(cfg.Faults, cfg.FaultSeed, p.reg, p.log)
	if err != nil {
		return nil, err
	}
	if cfg.CountWindow <= 0 {
		cfg.CountWindow = time.Minute
	}
	p.win = windowcount.New(cfg.CountWindow, 0)
	p.win.Declare(CountNodes()...)
	winReg := prometheus.NewRegistry()
	winReg.MustRegister(p.win, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.mux.Handle("/metrics/windows", promhttp.HandlerFor(winReg, promhttp.HandlerOpts{Registry: winReg}))
	if cfg.Micro != nil {
		if err := cfg.Micro.Register(p.reg); err != nil {
			return nil, err
		}
	}

	if err := checkState(cfg); err != nil {
		return nil, err
	}
	keyPath, err := ensureKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	key, err := pseudonymize.LoadKey(context.Background(), pseudonymize.KeySource{File: keyPath}, nil)
	if err != nil {
		return nil, err
	}
	pseudo, err := pseudonymize.New(cfg.Allowlist, key)
	if err != nil {
		return nil, err
	}

	// Object store and warehouse.
	p.s3, err = lake.StartLocalS3(cfg.DataDir, cfg.Bucket, p.log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { p.s3.Close(context.Background()) })
	whPath := filepath.Join(cfg.DataDir, WarehouseFile)
	p.wh, err = lake.OpenWarehouse(whPath)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { p.wh.Close() })
	client := p.s3.Client()
	p.loader, err = lake.NewLoader(lake.LoaderConfig{
		Bucket: cfg.Bucket,
		LineFilter: func(r lake.Route, lines [][]byte) [][]byte {
			return p.inj.Lines(r.Prefix+">warehouse", lines)
		},
	}, p.wh, client, p.reg, p.log)
	if err != nil {
		return nil, err
	}
	// Catch up with objects written before a crash but never loaded.
	if err := p.loader.Scan(context.Background()); err != nil {
		return nil, err
	}
	lctx, lcancel := context.WithCancel(context.Background())
	p.loaderCtx = lcancel
	p.loaderWG.Add(1)
	go func() { defer p.loaderWG.Done(); p.loader.Run(lctx) }()
	cleanup = append(cleanup, func() { lcancel(); p.loaderWG.Wait() })

	// Streams.
	p.rawGood = stream.NewMemoryBytes(StreamRawGood, cfg.StreamCapacity, cfg.StreamCapacityBytes)
	p.rawBad = stream.NewMemoryBytes(StreamRawBad, cfg.StreamCapacity, cfg.StreamCapacityBytes)
	p.enrGood = stream.NewMemoryBytes(StreamEnrichedGood, cfg.StreamCapacity, cfg.StreamCapacityBytes)
	p.enrBad = stream.NewMemoryBytes(StreamEnrichedBad, cfg.StreamCapacity, cfg.StreamCapacityBytes)
	cleanup = append(cleanup, func() {
		// Closed streams end the stage goroutines started below.
		for _, m := range []*stream.Memory{p.rawGood, p.rawBad, p.enrGood, p.enrBad} {
			m.Close(context.Background())
		}
		p.enrichWG.Wait()
		p.deliveryWG.Wait()
		for _, d := range p.deliveries {
			d.writer.Close(context.Background())
			d.failed.Close(context.Background())
		}
	})

	// Delivery streams: pseudonymizer + batch writers.
	wm := lake.NewWriterMetrics(p.reg)
	p.pseudoRecords = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricname.PseudonymizerRecords.Name, Help: metricname.PseudonymizerRecords.Help}, metricname.PseudonymizerRecords.Labels)
	p.reg.MustRegister(p.pseudoRecords)
	for _, d := range []struct {
		src    *stream.Memory
		prefix string
	}{{p.enrGood, lake.PrefixOutput}, {p.enrBad, lake.PrefixEnrichedBad}, {p.rawBad, lake.PrefixRawBad}} {
		dl, err := p.newDelivery(d.src, d.prefix, pseudo, client, wm)
		if err != nil {
			return nil, err
		}
		p.deliveries = append(p.deliveries, dl)
	}
	for _, d := range p.deliveries {
		for i := 0; i < cfg.DeliveryWorkers; i++ {
			p.deliveryWG.Add(1)
			go func() { defer p.deliveryWG.Done(); d.run() }()
		}
	}

	// Enricher.
	en, err := enrich.New(cfg.Enrich, p.reg, p.log.With("stage", "enricher"))
	if err != nil {
		return nil, err
	}
	enrGood := p.inj.Sink("enricher>enriched-good", p.enrGood)
	enrBad := p.inj.Sink("enricher>enriched-bad", p.enrBad)
	for i := 0; i < cfg.EnrichWorkers; i++ {
		p.enrichWG.Add(1)
		go func() { defer p.enrichWG.Done(); p.enrichLoop(en, enrGood, enrBad) }()
	}

	// Collector.
	cc := cfg.Collector
	cc.Sink.Type = "memory"
	var rawBad stream.Sink = p.rawBad
	if cfg.Micro != nil {
		rawBad = micro.TapSink{Store: cfg.Micro, Next: p.rawBad}
	}
	p.coll, err = collector.New(cc, p.inj.Sink("collector>raw-good", p.rawGood), p.inj.Sink("collector>raw-bad", rawBad), p.reg, p.log.With("stage", "collector"))
	if err != nil {
		return nil, err
	}
	p.coll.SetAcceptHook(func(at time.Time, events, badRows int) {
		p.win.Add(CountCollectorGood, at, events)
		p.win.Add(CountCollectorBad, at, badRows)
	})
	cln, err := net.Listen("tcp", cfg.CollectorAddress)
	if err != nil {
		return nil, fmt.Errorf("collector listen address %s: %w", cfg.CollectorAddress, err)
	}
	wln, err := net.Listen("tcp", cfg.WebAddress)
	if err != nil {
		cln.Close()
		return nil, fmt.Errorf("web listen address %s: %w", cfg.WebAddress, err)
	}
	collHandler := p.coll.Handler()
	if cfg.Micro != nil {
		collHandler = micro.NewHandler(cfg.Micro, micro.HandlerOptions{Pseudonymizer: pseudo, Schemas: en.Resolver(),
			Next: collHandler, AllowRemoteClear: cfg.MicroAllowRemoteClear, Log: p.log.With("component", "micro")})
	}
	p.collSrv = collector.NewServer(cfg.CollectorAddress, collHandler, cc)
	p.mux.Handle("/metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Registry: p.reg}))
	p.webSrv = &http.Server{Handler: p.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { p.collectorErr <- serve(p.collSrv, collector.WrapListener(cln, cc.Limits)) }()
	go func() { p.webErr <- serve(p.webSrv, wln) }()

	p.info = Info{
		CollectorURL:   "http://" + displayAddr(cln.Addr()),
		WebAddress:     wln.Addr().String(),
		MetricsURL:     "http://" + displayAddr(wln.Addr()) + "/metrics",
		WindowsURL:     "http://" + displayAddr(wln.Addr()) + "/metrics/windows",
		BufferInterval: cfg.BufferInterval,
		DataDir:        cfg.DataDir,
		S3Endpoint:     p.s3.Endpoint(),
		Bucket:         cfg.Bucket,
		WarehousePath:  whPath,
		KeyPath:        keyPath,
	}
	if cfg.Micro != nil {
		p.info.MicroURL = p.info.CollectorURL + "/micro"
	}
	return p, nil
}

func serve(s *http.Server, ln net.Listener) error {
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// displayAddr turns an unspecified listen address into one a client can
// use from this machine.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

// ensureKey returns the data directory's HMAC key file, creating it (32
// random bytes, hex, mode 0600) on first start. The key is never printed.
func ensureKey(dir string) (string, error) {
	path := filepath.Join(dir, KeyFile)
	if st, err := os.Stat(path); err == nil {
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("HMAC key file %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
		}
		return path, nil
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", fmt.Errorf("generating HMAC key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating HMAC key file %s: %w", path, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k[:]) + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("writing HMAC key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("writing HMAC key file %s: %w", path, err)
	}
	return path, f.Close()
}

// Info returns where the pipeline's parts are.
func (p *Pipeline) Info() Info { return p.info }

// Registry is the registry every stage's metrics are on; extensions (the
// exporter) may register more.
func (p *Pipeline) Registry() *prometheus.Registry { return p.reg }

// Mux is the web listener's mux (it serves /metrics); extensions may add
// handlers to it.
func (p *Pipeline) Mux() *http.ServeMux { return p.mux }

// Loader returns the warehouse loader (tests and benchmarks wait on it).
func (p *Pipeline) Loader() *lake.Loader { return p.loader }

// Faults returns the fault injector (nil when no rule is set).
func (p *Pipeline) Faults() *fault.Injector { return p.inj }

// Err returns a channel that yields an error if a listener fails.
func (p *Pipeline) Err() <-chan error {
	ch := make(chan error, 1)
	go func() {
		select {
		case err := <-p.collectorErr:
			if err != nil {
				ch <- fmt.Errorf("collector listener: %w", err)
			}
		case err := <-p.webErr:
			if err != nil {
				ch <- fmt.Errorf("web listener: %w", err)
			}
		}
	}()
	return ch
}

// enrichLoop reads raw-good until it is closed and drained.
func (p *Pipeline) enrichLoop(en *enrich.Enricher, good, bad stream.Sink) {
	ctx := context.Background()
	for {
		// A bounded read, and each record's output put before the next
		// record is enriched: what a worker holds is at most readBytes of
		// input plus one record's output, not 100 records' expansion.
		recs, err := p.rawGood.ReadUpTo(ctx, 100, readBytes)
		if err != nil {
			return // ErrClosed: the collector is gone and the stream is empty
		}
		recs = p.inj.Records("raw-good>enricher", recs)
		for i, r := range recs {
			out := en.Enrich(ctx, r.Data)
			recs[i] = stream.Record{} // done with it: let it go
			if p.cfg.Micro != nil {
				p.cfg.Micro.AddEnriched(r.Data, out)
			}
			p.countEnriched(r.Data, out.Good, out.Bad)
			p.putLines(ctx, good, StreamEnrichedGood, "enriched events lost", out.Good)
			p.putLines(ctx, bad, StreamEnrichedBad, "bad rows lost", out.Bad)
		}
	}
}

// readBytes bounds what one stage worker takes from a stream at a time.
const readBytes = 1 << 20

// putLines puts lines on a stream as records. The in-memory streams only
// fail once closed, which happens after every enricher worker is done; a
// failure here is a bug worth shouting about, not a silent drop.
func (p *Pipeline) putLines(ctx context.Context, s stream.Sink, name, what string, lines [][]byte) {
	if len(lines) == 0 {
		return
	}
	recs := make([]stream.Record, len(lines))
	for i, l := range lines {
		recs[i] = stream.Record{Data: l}
	}
	if err := s.Put(ctx, recs); err != nil {
		p.log.Error(what, "stream", name, "records", len(recs), "err", err)
	}
}

// Shutdown drains every stage in pipeline order (see the package doc) and
// closes the stores. It returns the first errors met; ctx bounds it.
func (p *Pipeline) Shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() { p.shutdownErr = p.shutdown(ctx) })
	return p.shutdownErr
}

func (p *Pipeline) shutdown(ctx context.Context) error {
	var errs []error
	step := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	// 1. Collector: no new connections, finish requests, close raw streams.
	p.collSrv.SetKeepAlivesEnabled(false)
	step("stopping collector listener", p.collSrv.Shutdown(ctx))
	step("draining collector", p.coll.Shutdown(ctx))
	// 2. Enricher: empties raw-good, then the enriched streams close.
	step("draining enricher", waitCtx(ctx, &p.enrichWG))
	p.enrGood.Close(ctx)
	p.enrBad.Close(ctx)
	// 3. Delivery streams: empty enriched-good/bad and raw-bad.
	step("draining pseudonymizer", waitCtx(ctx, &p.deliveryWG))
	// 4. Batch writers: flush buffers to the object store.
	for _, d := range p.deliveries {
		step("flushing "+d.prefix, d.writer.Close(ctx))
		step("flushing "+lake.PrefixProcessingFailed+" of "+d.name, d.failed.Close(ctx))
	}
	// 5. Loader: a final pass loads everything the writers wrote.
	p.loaderCtx()
	p.loaderWG.Wait()
	_, err := p.loader.LoadPending(ctx)
	step("final warehouse load", err)
	p.loader.Close()
	p.inj.LogSummary()
	step("stopping web listener", p.webSrv.Shutdown(ctx))
	step("closing warehouse", p.wh.Close())
	step("closing object store", p.s3.Close(ctx))
	return errors.Join(errs...)
}

func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
