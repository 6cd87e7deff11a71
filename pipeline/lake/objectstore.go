package lake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
	bolt "go.etcd.io/bbolt"
	"gopkg.in/mgo.v2/bson"
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
	backend := &listingBackend{Backend: s3bolt.New(db), db: db}
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

// listingBackend lists objects without reading their contents. s3bolt's own
// ListBucket starts at the first key of the bucket and decodes every
// object, contents included, so each listing (the loader's start-up scan,
// the exporter's S3 source every few seconds) would cost as much as
// reading the whole store. This one seeks to the prefix (or marker), stops
// after it and decodes only the listing fields.
type listingBackend struct {
	*s3bolt.Backend
	db *bolt.DB
}

// listedObject holds the fields of s3bolt's stored object a listing needs;
// the decoder skips the others (Contents, Metadata).
type listedObject struct {
	LastModified time.Time `bson:"lastmodified"`
	Size         int64     `bson:"size"`
	Hash         []byte    `bson:"hash"`
}

// ListBucket lists name's objects under prefix, one page at a time.
func (b *listingBackend) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if prefix == nil {
		prefix = &gofakes3.Prefix{}
	}
	objects := gofakes3.NewObjectList()
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(name))
		if bk == nil {
			return gofakes3.BucketNotFound(name)
		}
		c := bk.Cursor()
		var k, v []byte
		switch {
		case page.HasMarker && (!prefix.HasPrefix || page.Marker >= prefix.Prefix):
			k, v = c.Seek([]byte(page.Marker))
			if string(k) == page.Marker {
				k, v = c.Next()
			}
		case prefix.HasPrefix:
			k, v = c.Seek([]byte(prefix.Prefix))
		default:
			k, v = c.First()
		}
		inRange := func(key []byte) bool {
			return !prefix.HasPrefix || strings.HasPrefix(string(key), prefix.Prefix)
		}
		var (
			match           gofakes3.PrefixMatch
			cnt             int64
			lastMatchedPart string
			lastKey         string
		)
		for ; k != nil && inRange(k); k, v = c.Next() {
			key := string(k)
			if !prefix.Match(key, &match) {
				continue
			}
			if match.CommonPrefix {
				if match.MatchedPart == lastMatchedPart {
					continue
				}
				objects.AddPrefix(match.MatchedPart)
				lastMatchedPart = match.MatchedPart
			} else {
				var o listedObject
				if err := bson.Unmarshal(v, &o); err != nil {
					return fmt.Errorf("object store: decoding %q: %w", key, err)
				}
				objects.Add(&gofakes3.Content{
					Key:          key,
					ETag:         gofakes3.FormatETag(o.Hash),
					Size:         o.Size,
					LastModified: gofakes3.NewContentTime(o.LastModified.UTC()),
				})
			}
			lastKey = key
			cnt++
			if page.MaxKeys > 0 && cnt >= page.MaxKeys {
				// More to come only if a later key in range makes a new entry.
				next := lastKey
				for nk, _ := c.Next(); nk != nil && inRange(nk); nk, _ = c.Next() {
					var m gofakes3.PrefixMatch
					if !prefix.Match(string(nk), &m) {
						continue
					}
					if m.CommonPrefix && m.MatchedPart == lastMatchedPart {
						next = string(nk)
						continue
					}
					objects.IsTruncated = true
					objects.NextMarker = next
					break
				}
				break
			}
		}
		return nil
	})
	return objects, err
}
