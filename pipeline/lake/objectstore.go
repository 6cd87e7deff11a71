package lake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
	bolt "go.etcd.io/bbolt"
)

// The embedded object store's fixed, non-secret credentials. gofakes3 does
// not check signatures; the client signs anyway so the request on the wire
// is exactly what AWS S3 would receive.
const (
	localAccessKey = "plowline-local"
	localSecretKey = "plowline-local-not-a-secret"
	localRegion    = "us-east-1"
)

// LocalS3 is an S3-compatible server embedded in the process: gofakes3 over
// a bbolt file, so objects survive restarts (each PutObject is one fsynced
// bbolt transaction, which also makes a kill -9 lose no acknowledged put).
// It listens on 127.0.0.1 only.
type LocalS3 struct {
	db       *bolt.DB
	srv      *http.Server
	ln       net.Listener
	endpoint string
	done     chan struct{}
}

// StartLocalS3 opens (or creates) dir/s3.bolt, makes sure bucket exists and
// serves the S3 API on a free 127.0.0.1 port. It fails fast if another
// process holds the store (bbolt's file lock), naming the file.
func StartLocalS3(dir, bucket string, log *slog.Logger) (*LocalS3, error) {
	path := filepath.Join(dir, "s3.bolt")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("opening object store %s: another plowline process uses this data directory", path)
		}
		return nil, fmt.Errorf("opening object store %s: %w", path, err)
	}
	backend := s3bolt.New(db)
	if ok, err := backend.BucketExists(bucket); err != nil {
		db.Close()
		return nil, fmt.Errorf("checking bucket %q in %s: %w", bucket, path, err)
	} else if !ok {
		if err := backend.CreateBucket(bucket); err != nil {
			db.Close()
			return nil, fmt.Errorf("creating bucket %q in %s: %w", bucket, path, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listening for the embedded object store: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "object-store")
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(false), gofakes3.WithLogger(fakeS3Log{log}))
	l := &LocalS3{
		db:       db,
		ln:       ln,
		endpoint: "http://" + ln.Addr().String(),
		done:     make(chan struct{}),
		srv: &http.Server{
			Handler:           faker.Server(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	go func() {
		defer close(l.done)
		if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("embedded object store stopped", "err", err)
		}
	}()
	return l, nil
}

// fakeS3Log sends gofakes3's errors and warnings to slog; its request
// chatter is dropped.
type fakeS3Log struct{ log *slog.Logger }

func (f fakeS3Log) Print(level gofakes3.LogLevel, v ...any) {
	switch level {
	case gofakes3.LogErr:
		f.log.Error(fmt.Sprint(v...))
	case gofakes3.LogWarn:
		f.log.Warn(fmt.Sprint(v...))
	}
}

// Endpoint returns the server's base URL (http://127.0.0.1:PORT).
func (l *LocalS3) Endpoint() string { return l.endpoint }

// Client returns an S3 client for the embedded server: path-style
// addressing and the local static credentials.
func (l *LocalS3) Client() *s3.Client {
	return NewS3Client(l.endpoint, localRegion, localAccessKey, localSecretKey, &http.Client{Timeout: time.Minute})
}

// Close stops serving and closes the store. In-flight requests get ctx's
// time to finish.
func (l *LocalS3) Close(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	<-l.done
	if cerr := l.db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing object store: %w", cerr)
	}
	return err
}

// NewS3Client returns a client for an S3-compatible endpoint with path-style
// addressing and static credentials. The HTTP client is given through the
// service options (not config.WithHTTPClient) so an AWS_CA_BUNDLE in the
// environment cannot replace it. Checksums are only computed where S3
// requires them: the embedded server does not speak aws-chunked trailers.
func NewS3Client(endpoint, region, accessKey, secretKey string, hc *http.Client) *s3.Client {
	return s3.New(s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}
