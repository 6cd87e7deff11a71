package lake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
)

// The embedded object store's fixed, non-secret credentials. gofakes3 does
// not check signatures; the client signs anyway so the request on the wire
// is exactly what AWS S3 would receive.
const (
	localAccessKey = "plowline-local"
	localSecretKey = "plowline-local-not-a-secret"
	localRegion    = "us-east-1"
)

// ObjectStoreDir is the directory, inside the data directory, that holds
// the embedded object store: <ObjectStoreDir>/<bucket>/<key>, one plain
// file per object.
const ObjectStoreDir = "s3"

// legacyBoltFile is where plowline kept objects before they became files.
const legacyBoltFile = "s3.bolt"

// LocalS3 is an S3-compatible server embedded in the process: gofakes3
// over a directory of plain files (see fileBackend), so objects survive
// restarts and a user can ls and zcat them. Each put is written to a
// temporary file, synced and renamed into place, so a kill -9 loses no
// acknowledged put and leaves no partial object. It listens on 127.0.0.1
// only.
type LocalS3 struct {
	lock     *os.File
	srv      *http.Server
	ln       net.Listener
	endpoint string
	done     chan struct{}
}

// StartLocalS3 opens (or creates) dir/s3, makes sure bucket exists and
// serves the S3 API on a free 127.0.0.1 port. It fails fast, naming the
// directory, if another process holds the store, and refuses a data
// directory that still holds the old bbolt store (s3.bolt).
func StartLocalS3(dir, bucket string, log *slog.Logger) (_ *LocalS3, err error) {
	if _, err := os.Stat(filepath.Join(dir, legacyBoltFile)); err == nil {
		return nil, fmt.Errorf("%s is an object store from an older plowline, which this version no longer reads: "+
			"its objects now are files under %s. Start with a new --data-dir, or move %s and %s away to start this one afresh",
			filepath.Join(dir, legacyBoltFile), filepath.Join(dir, ObjectStoreDir), legacyBoltFile, "warehouse.db")
	}
	root := filepath.Join(dir, ObjectStoreDir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating object store directory %s: %w", root, err)
	}
	lock, err := lockDir(root)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Close()
		}
	}()
	backend, err := newFileBackend(root)
	if err != nil {
		return nil, err
	}
	if ok, err := backend.BucketExists(bucket); err != nil {
		return nil, fmt.Errorf("checking bucket %q in %s: %w", bucket, root, err)
	} else if !ok {
		if err := backend.CreateBucket(bucket); err != nil {
			return nil, fmt.Errorf("creating bucket %q in %s: %w", bucket, root, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the embedded object store: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "object-store")
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(false), gofakes3.WithLogger(fakeS3Log{log}))
	l := &LocalS3{
		lock:     lock,
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

// lockDir takes an advisory lock on dir/.lock, held until the file is
// closed (or the process exits, so a crash leaves no stale lock).
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening object store lock %s: %w", path, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("opening object store %s: another plowline process uses this data directory", dir)
		}
		return nil, fmt.Errorf("locking object store %s: %w", dir, err)
	}
	return f, nil
}

// fakeS3Log sends gofakes3's errors and warnings to slog; its request
// chatter is dropped.
type fakeS3Log struct{ log *slog.Logger }

// Print logs gofakes3's errors and warnings.
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

// Close stops serving and releases the store. In-flight requests get ctx's
// time to finish.
func (l *LocalS3) Close(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	<-l.done
	if cerr := l.lock.Close(); cerr != nil && err == nil {
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
