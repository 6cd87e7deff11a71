package collector

import (
	"net/http"
)

// NewServer returns an HTTP server for the collector's handler (serve it on
// a listener from WrapListener) with the
// configured limits: slow clients cannot hold a connection open by
// trickling headers or a body, idle keep-alive connections are closed, and
// oversized headers are refused (431) before the handler runs.
func NewServer(addr string, h http.Handler, cfg Config) *http.Server {
	l := cfg.Limits
	return &http.Server{
		Addr:              addr,
		Handler:           closeAfterChunked(h),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// closeAfterChunked closes the connection after any request with a
// Transfer-Encoding. A request with both Content-Length and
// Transfer-Encoding is how requests are smuggled past a proxy that reads
// the other length (RFC 9112 §6.3 says to treat it as an error and close
// the connection). net/http reads such a body as chunked and drops the
// Content-Length header before a handler runs, so the handler cannot tell
// the two apart; closing after every chunked request (trackers send
// Content-Length) means nothing that follows such a body on the same
// connection is ever served.
//
// Served through WrapListener, a request that had both fields arrives
// with its Content-Length renamed to smuggleMarker: it is refused with 400.
func closeAfterChunked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, both := r.Header[smuggleMarker]; both {
			w.Header().Set("Connection", "close")
			http.Error(w, "a request must not carry both Content-Length and Transfer-Encoding (RFC 9112 section 6.3)", http.StatusBadRequest)
			return
		}
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
