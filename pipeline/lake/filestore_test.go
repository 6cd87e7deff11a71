package lake

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// selfChecking returns a body of n bytes whose first 8 bytes are n and
// whose rest is derived from (seed, n): a reader can tell a whole body
// from a torn or foreign one without knowing what was put.
func selfChecking(seed uint64, n int) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, uint64(n))
	binary.LittleEndian.PutUint64(b[8:], seed)
	x := seed*0x9e3779b97f4a7c15 + uint64(n)
	for i := 16; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func checkSelf(b []byte) error {
	if len(b) < 16 {
		return fmt.Errorf("%d bytes, too short", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n != uint64(len(b)) {
		return fmt.Errorf("header says %d bytes, got %d", n, len(b))
	}
	if !bytes.Equal(b, selfChecking(binary.LittleEndian.Uint64(b[8:]), len(b))) {
		return errors.New("contents differ from what was put")
	}
	return nil
}

// TestLocalS3ReadsOwnTheirBytesWhileWritesGrowTheStore is the regression
// test for issue 12's crash: the old store handed readers memory of a
// memory-mapped file that a growing write remapped. Writers here put new
// objects of up to 512 KiB (the store grows by about 20 MiB) and overwrite
// a few hot keys, while readers get every object they can list and the
// hot keys; each body read must be whole and exactly one that was put.
func TestLocalS3ReadsOwnTheirBytesWhileWritesGrowTheStore(t *testing.T) {
	s := startS3(t, t.TempDir())
	c := s.Client()
	ctx := context.Background()
	put := func(key string, body []byte) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
		return err
	}
	get := func(key string) ([]byte, error) {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
	hot := []string{"hot/a", "hot/b", "hot/c"}
	for i, k := range hot {
		if err := put(k, selfChecking(uint64(i), 4096)); err != nil {
			t.Fatal(err)
		}
	}
	const writers, perWriter = 3, 25
	var (
		wg      sync.WaitGroup
		writing atomic.Int32
		reads   atomic.Int64
		failMu  sync.Mutex
		fails   []string
	)
	fail := func(format string, a ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(fails) < 10 {
			fails = append(fails, fmt.Sprintf(format, a...))
		}
	}
	writing.Store(writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer writing.Add(-1)
			for i := range perWriter {
				seed := uint64(w*1000 + i)
				size := 16 + int(seed*7919%(512<<10))
				if err := put(fmt.Sprintf("grow/%d/%04d", w, i), selfChecking(seed, size)); err != nil {
					fail("put: %v", err)
				}
				if err := put(hot[i%len(hot)], selfChecking(seed, size/4+16)); err != nil {
					fail("overwrite: %v", err)
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for writing.Load() > 0 {
				keys := append(listKeys(t, c, "grow/"), hot...)
				for _, k := range keys {
					b, err := get(k)
					if err != nil {
						fail("get %s: %v", k, err)
						continue
					}
					reads.Add(1)
					if err := checkSelf(b); err != nil {
						fail("get %s: %v", k, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range fails {
		t.Error(f)
	}
	if reads.Load() < writers*perWriter/2 {
		t.Errorf("only %d reads overlapped the writes", reads.Load())
	}
	if got := len(listKeys(t, c, "grow/")); got != writers*perWriter {
		t.Errorf("%d objects listed, want %d", got, writers*perWriter)
	}
}

// TestLocalS3KeepsObjectsAsPlainFiles: what a user finds with ls is each
// object, byte for byte, at <data>/s3/<bucket>/<key>; ETags are MD5s, also
// when the hidden sidecar is gone or stale; ranges, heads, copies and
// deletes behave as on S3.
func TestLocalS3KeepsObjectsAsPlainFiles(t *testing.T) {
	dir := t.TempDir()
	s := startS3(t, dir)
	c := s.Client()
	ctx := context.Background()
	body := []byte("hello, lake\n")
	key := "output/2026/12/05/08/x-1.gz"
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentEncoding: aws.String("gzip")}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ObjectStoreDir, testBucket, "output", "2026", "12", "05", "08", "x-1.gz")
	onDisk, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(onDisk, body) {
		t.Fatalf("file %s: %q, %v; want the object's bytes", path, onDisk, err)
	}
	sum := md5.Sum(body)
	wantETag := `"` + hex.EncodeToString(sum[:]) + `"`
	etag := func() string {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String("output/")})
		if err != nil || len(out.Contents) != 1 {
			t.Fatalf("list: %v, %v", out, err)
		}
		return aws.ToString(out.Contents[0].ETag)
	}
	if got := etag(); got != wantETag {
		t.Errorf("listed ETag %s, want %s", got, wantETag)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil || aws.ToString(head.ETag) != wantETag || aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToString(head.ContentEncoding) != "gzip" {
		t.Errorf("head: %+v, %v", head, err)
	}
	// A sidecar that no longer describes the file (replaced by hand) is
	// not trusted; a missing one is rebuilt.
	if err := os.WriteFile(path, []byte("replaced"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum = md5.Sum([]byte("replaced"))
	if got, want := etag(), `"`+hex.EncodeToString(sum[:])+`"`; got != want {
		t.Errorf("ETag after the file changed: %s, want %s", got, want)
	}
	os.Remove(filepath.Join(filepath.Dir(path), ".x-1.gz.meta"))
	if got, want := etag(), `"`+hex.EncodeToString(sum[:])+`"`; got != want {
		t.Errorf("ETag without a sidecar: %s, want %s", got, want)
	}
	rng, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Range: aws.String("bytes=2-4")})
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rng.Body)
	rng.Body.Close()
	if string(part) != "pla" {
		t.Errorf("bytes=2-4 of %q: %q", "replaced", part)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(testBucket), Key: aws.String("copy/y"),
		CopySource: aws.String(testBucket + "/" + key)}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ObjectStoreDir, testBucket, "copy", "y")); string(b) != "replaced" {
		t.Errorf("copy holds %q", b)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ObjectStoreDir, testBucket, "output")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleting the only object left its directories: %v", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "NoSuchKey" {
		t.Errorf("get after delete: %v, want NoSuchKey", err)
	}
}

// TestLocalS3RefusesKeysThatAreNotPaths: keys that would leave the bucket
// directory, hide as dot files or collide with a directory are refused
// with InvalidArgument, and nothing is written outside the bucket.
func TestLocalS3RefusesKeysThatAreNotPaths(t *testing.T) {
	dir := t.TempDir()
	s := startS3(t, dir)
	c := s.Client()
	ctx := context.Background()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("a/b"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../escape", "a/../../escape", "./x", "a//b", "a/", ".hidden", "a/.b.meta", "a", "a/b/c"} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: strings.NewReader("x")})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "InvalidArgument" {
			t.Errorf("put %q: %v, want InvalidArgument", key, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != ObjectStoreDir {
			t.Errorf("%s written outside the object store", e.Name())
		}
	}
	if got := listKeys(t, c, ""); fmt.Sprint(got) != "[a/b]" {
		t.Errorf("keys after the refused puts: %v", got)
	}
}

// TestLocalS3StartsWithoutCrashLeftovers: temporary files of a put a crash
// interrupted are removed at start and never listed.
func TestLocalS3StartsWithoutCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, err := StartLocalS3(dir, testBucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	leftover := filepath.Join(dir, ObjectStoreDir, tmpDirName, "0123456789abcdef")
	if err := os.WriteFile(leftover, []byte("half an obj"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = startS3(t, dir)
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file survived the start: %v", err)
	}
	if got := listKeys(t, s.Client(), ""); len(got) != 0 {
		t.Errorf("listed %v", got)
	}
}

func TestLocalS3RefusesTheOldBoltStore(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s3.bolt"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := StartLocalS3(dir, testBucket, nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "s3.bolt")) || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("start over s3.bolt: %v; want an error naming the file and what to do", err)
	}
}

// FuzzCheckKey: every key the store accepts maps onto a path strictly
// inside the bucket directory that maps back onto the same key.
func FuzzCheckKey(f *testing.F) {
	for _, k := range []string{"output/2026/12/05/08/a.gz", "../x", "a//b", "/a", "a/", ".", "a/./b", "a\x00b", "é/ü"} {
		f.Add(k)
	}
	b := &fileBackend{root: "/store"}
	f.Fuzz(func(t *testing.T, key string) {
		if checkKey(key) != nil {
			return
		}
		p := b.objectPath("bucket", key)
		rel, err := filepath.Rel("/store/bucket", p)
		if err != nil || filepath.ToSlash(rel) != key || strings.HasPrefix(rel, "..") {
			t.Fatalf("key %q accepted but maps to %s", key, p)
		}
		if strings.HasPrefix(filepath.Base(p), ".") {
			t.Fatalf("key %q maps to a hidden file %s", key, p)
		}
	})
}
