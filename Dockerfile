# syntax=docker/dockerfile:1
# Build a static binary, then ship it alone on an empty image, as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/plowline ./cmd/plowline \
 && mkdir -p /out/data /out/tmp && chmod 1777 /out/tmp

FROM scratch
# CA roots for AWS and Snowflake endpoints; the binary needs nothing else.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/plowline /usr/local/bin/plowline
COPY --from=build --chown=65532:65532 /out/data /data
# SQLite and Go's os.TempDir need a writable /tmp; scratch has none.
COPY --from=build /out/tmp /tmp
ENV PATH=/usr/local/bin
USER 65532:65532
WORKDIR /data
# plowline run keeps its object store, warehouse and HMAC key here; mount a
# volume to keep them across containers.
VOLUME ["/data"]
# Collector, then the metrics/exporter listener.
EXPOSE 8080 9090
ENTRYPOINT ["plowline"]
# Inside the container the collector must listen on all interfaces to be
# reachable; the flags are plowline run's (cmd/plowline/run.go).
CMD ["run", "--collector.listen-address=0.0.0.0:8080", "--web.listen-address=0.0.0.0:9090", "--data-dir=/data"]
