package collector

import (
	"net/http"
)

// NewServer returns an HTTP server for the collector's handler with the
// configured limits: slow clients cannot hold a connection open by
// trickling headers or a body, idle keep-alive connections are closed, and
// oversized headers are refused (431) before the handler runs.
func NewServer(addr string, h http.Handler, cfg Config) *http.Server {
	l := cfg.Limits
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}
