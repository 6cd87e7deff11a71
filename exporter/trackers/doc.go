// Package trackers is the exporter's source for the trackers' own
// counters, read from a Prometheus server's HTTP API: GitLab's
// gitlab_snowplow_events_total (events emitted),
// gitlab_snowplow_successful_events_total (delivered to the collector) and
// gitlab_snowplow_failed_events_total, as nodes trackers:emitted,
// trackers:successful and trackers:failed (DefaultQueries).
//
// # Counting per window
//
// A counter query (`counter:` a series selector) is evaluated as one
// query_range of last_over_time(<selector>[window]) with step = window over
// the window boundaries From, From+window, …: every series' last sample at
// or before each boundary. The source then sums, per window, each series'
// increase between the window's two boundaries:
//
//   - the difference of the two values, for a series seen at both;
//   - the later value, if it is lower (the counter was reset: the process
//     restarted) — increments between the earlier boundary and the
//     restart are lost, as with any sampled counter;
//   - the whole value, for a series first seen at the later boundary (a
//     pod started, or a lazily created counter appeared, inside the window;
//     increase() misses these events);
//   - nothing for a series gone by the later boundary after its last sample
//     (its final increments were in its last_over_time value already).
//
// The per-window counts telescope: over a range they add up exactly to
// the counters' growth, with no extrapolation. A scrape's increments are
// bucketed by the scrape's timestamp, so events within one scrape interval
// of a boundary can land in the next window; the series are bucketed by
// arrival time accordingly.
//
// An `expr:` query is any PromQL whose value at a window's end is the
// window's count, with $__window replaced by the window length, e.g.
// sum(increase(gitlab_snowplow_events_total[$__window])), evaluated by
// query_range at the window ends. Prometheus's increase() extrapolates to
// the window edges and ignores series born inside the window, so these
// counts are estimates; counter queries are preferred.
//
// # Unknown is not zero
//
// Windows ending later than now−delay (default 1 min: the last scrape may
// not be in yet) are not reported. A counter query that finds no series at
// all reports no windows unless absent_as_zero is set (the default for the
// failed-events counter, which GitLab creates on the first failure). A
// boundary at which no series has a value is a gap in Prometheus's data,
// and both windows around it are omitted rather than reported as zero and
// then double.
//
// A query that fails — Prometheus unreachable, a bad query, a timeout,
// credentials refused — fails the refresh with an error naming the node,
// the query and the server (with any URL password redacted); the exporter
// then reports the source down. Credentials come from files (basic_auth
// password_file, authorization credentials_file, bearer_token_file) in
// Prometheus's own HTTP client configuration, never from the command line.
package trackers
