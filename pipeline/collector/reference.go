package collector

// ConfigReference documents every configuration key with its default. It
// is what `plowline collector --help` prints, and a test checks that it
// parses to DefaultConfig and names every key, so it cannot drift.
const ConfigReference = `# plowline collector configuration (YAML). Every key is optional; the
# values below are the defaults. Durations are Go durations (500ms, 5s, 8760h).

# Where trackers connect, and where Prometheus scrapes /metrics.
listen_address: 127.0.0.1:8080
metrics_listen_address: 127.0.0.1:9101
# On SIGTERM/SIGINT: stop accepting, finish requests in flight, flush the
# sinks' buffers; give up (and report what was lost) after this long.
shutdown_timeout: 30s

# The payload's collector field; empty means plowline-<version>-<sink type>.
collector_name: ""

# Custom paths mapped onto standard ones; the payload records the standard
# path. Targets: /com.snowplowanalytics.snowplow/tp2, /i, /ice.png, /r/tp2,
# or another /{vendor}/{version}. Map a default away with an empty target.
paths:
  /-/collect_events: /com.snowplowanalytics.snowplow/tp2

# The network user id cookie (nuid parameter > this cookie > a new UUID).
cookie:
  enabled: true
  name: sp
  expiration: 8760h0m0s
  # Matched against the request's Origin host (the domain or a subdomain);
  # the first match becomes the cookie's Domain, else fallback_domain, else
  # no Domain (the collector's own host).
  domains: []
  fallback_domain: ""
  secure: true
  http_only: true
  # None, Lax, Strict or "" (no attribute). Cross-site trackers need None,
  # which browsers accept only together with secure: true.
  same_site: None

# Requests carrying this cookie, with a value matching the regular
# expression as a whole, are answered as usual but not recorded.
do_not_track_cookie:
  enabled: false
  name: ""
  value: ""

cors:
  # Access-Control-Max-Age of preflight (OPTIONS) answers.
  access_control_max_age: 1h0m0s

# GET /r/tp2?u=URL records the request and redirects to URL. Off by
# default; when on, only to these domains (and their subdomains).
redirect:
  enabled: false
  domains: []

limits:
  # Larger request bodies get 413 before they are read.
  max_body_bytes: 1048576
  # Bytes of POST bodies held at once, all requests together (a body of
  # unknown length counts as max_body_bytes); a request that finds no room
  # within sink_timeout gets 503. Bounds the collector's memory.
  max_inflight_body_bytes: 16777216
  # Largest record the good sink takes (Kinesis: 1 MiB with the partition
  # key). Bigger tp2 batches are split by event; an event that alone is too
  # big becomes a size_violation bad row on the bad sink.
  max_record_bytes: 1000000
  # Request line plus headers; more gets 431.
  max_header_bytes: 65536
  # Connections served at once; more wait in the kernel's backlog until
  # one closes. Each may hold about max_header_bytes while its headers
  # arrive, so with it memory does not grow with the number of clients.
  max_connections: 256
  # Slow clients cannot hold connections: time to send the headers, the
  # whole request, and to take the response.
  read_header_timeout: 5s
  read_timeout: 10s
  write_timeout: 15s
  # Keep-alive connections idle this long are closed. Behind an AWS ALB
  # keep it above the ALB's idle timeout (60s by default).
  idle_timeout: 1m15s
  # Longest a request waits for a sink to take its records; then 503 (the
  # tracker retries). In Lambda mode the default is 10s (synchronous
  # PutRecords with retries).
  sink_timeout: 1s

# Key records by client IP (one client's events stay in order on a shard)
# instead of spreading them evenly.
use_ip_address_as_partition_key: false

sink:
  # kinesis, file, stdout (good to stdout, bad rows to stderr, one base64
  # record per line) or memory (plowline run only).
  type: stdout
  # Stream names (kinesis) or file paths (file).
  good: raw-good
  bad: raw-bad
  kinesis:
    # Defaults to $AWS_REGION; credentials come from the usual AWS sources.
    region: ""
    # Another endpoint (kinesalite, a VPC endpoint); empty means AWS.
    endpoint: ""
    # Bytes acknowledged to trackers but not yet written; when full, 503.
    # This is what a crash (SIGKILL, OOM, power loss) can lose.
    buffer_bytes: 67108864
    # One PutRecords call: at most this many records and bytes (Kinesis
    # allows 500 and 5 MiB), sent once full or after flush_interval.
    max_batch_records: 500
    max_batch_bytes: 5242880
    flush_interval: 200ms
`
