// Package e2e holds end-to-end tests that drive the real plowline binary
// against real parts (kinesalite, real Snowplow trackers in Node.js and
// headless Chromium, Prometheus) on 127.0.0.1. Each file belongs to one
// area: collector_*, enrich_*, run_*, exporter_*.
package e2e
