package micro

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plowline/plowline/pipeline/collector"
	"github.com/plowline/plowline/pipeline/enrich"
	"github.com/plowline/plowline/pipeline/pseudonymize"
	"github.com/plowline/plowline/pipeline/stream"
)

// TapSink passes records to next (when not nil) and, once next accepted
// them, adds them to the store as the collector's own bad rows.
type TapSink struct {
	Store *Store
	Next  stream.Sink
}

// Put implements stream.Sink.
func (t TapSink) Put(ctx context.Context, records []stream.Record) error {
	if t.Next != nil {
		if err := t.Next.Put(ctx, records); err != nil {
			return err
		}
	}
	rows := make([][]byte, len(records))
	for i, r := range records {
		rows[i] = r.Data
	}
	t.Store.AddCollectorBad(rows)
	return nil
}

// Close implements stream.Sink.
func (t TapSink) Close(ctx context.Context) error {
	if t.Next != nil {
		return t.Next.Close(ctx)
	}
	return nil
}

// enrichSink enriches each payload as the collector hands it over, before
// the collector answers the tracker, as Micro's own sink does: once a
// tracker's request succeeded, its events are in /micro/good or /micro/bad.
type enrichSink struct {
	en    *enrich.Enricher
	store *Store
}

func (e enrichSink) Put(ctx context.Context, records []stream.Record) error {
	for _, r := range records {
		e.store.AddEnriched(r.Data, e.en.Enrich(ctx, r.Data))
	}
	return nil
}

func (e enrichSink) Close(context.Context) error { return nil }

// ServerConfig configures the standalone Micro mode (plowline micro).
type ServerConfig struct {
	// Address is the listen address of the collector and the API; port 0
	// picks a free port.
	Address   string
	Collector collector.Config
	Enrich    enrich.Config
	// Pseudonymizer renders /pseudonymized/micro/...; nil disables it.
	Pseudonymizer    *pseudonymize.Pseudonymizer
	MaxEvents        int
	AllowRemoteClear bool
	Log              *slog.Logger
}

// Server is the standalone Micro mode: a collector whose payloads are
// enriched at once into a Store, and the API over it, on one listener.
// Nothing is written anywhere else: no streams, no lake, no warehouse.
type Server struct {
	store *Store
	coll  *collector.Collector
	srv   *http.Server
	url   string
	errc  chan error
}

// Start builds and starts the standalone Micro mode.
func Start(cfg ServerConfig) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	store := NewStore(cfg.MaxEvents)
	if err := store.Register(reg); err != nil {
		return nil, err
	}
	en, err := enrich.New(cfg.Enrich, reg, cfg.Log.With("stage", "enricher"))
	if err != nil {
		return nil, err
	}
	cc := cfg.Collector
	cc.Sink.Type = "memory"
	coll, err := collector.New(cc, enrichSink{en: en, store: store}, TapSink{Store: store}, reg, cfg.Log.With("stage", "collector"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("listen address %s: %w", cfg.Address, err)
	}
	h := NewHandler(store, HandlerOptions{Pseudonymizer: cfg.Pseudonymizer, Schemas: en.Resolver(), Next: coll.Handler(),
		AllowRemoteClear: cfg.AllowRemoteClear, Log: cfg.Log.With("component", "micro")})
	s := &Server{store: store, coll: coll, srv: collector.NewServer(cfg.Address, h, cc), errc: make(chan error, 1),
		url: "http://" + displayAddr(ln.Addr())}
	go func() {
		if err := s.srv.Serve(collector.WrapListener(ln, cc.Limits)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
	return s, nil
}

// displayAddr turns an unspecified listen address into one a client on
// this machine can use.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

// URL is the base URL of the collector and the API (http://host:port).
func (s *Server) URL() string { return s.url }

// Store is the store the API serves.
func (s *Server) Store() *Store { return s.store }

// Err yields an error if the listener fails.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops taking requests and finishes those under way.
func (s *Server) Shutdown(ctx context.Context) error {
	s.srv.SetKeepAlivesEnabled(false)
	return errors.Join(s.srv.Shutdown(ctx), s.coll.Shutdown(ctx))
}
