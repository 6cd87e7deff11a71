package lake

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/johannesboyne/gofakes3"
)

// fileBackend is a gofakes3 backend that keeps each object as a plain file,
// <root>/<bucket>/<key>, so a user can ls and zcat the lake. Every read opens
// the file and hands that open file to the server: a reader owns what it
// reads, and a concurrent put (which writes a new file and renames it over
// the old one) never changes the bytes under it.
//
// Each object has a small hidden sidecar, .<name>.meta in the same
// directory, holding its MD5 (the ETag) and the metadata it was put with.
// The sidecar records the object's size and modification time; if they do
// not match the file (a crash between the two renames, a file replaced by
// hand), the MD5 is computed again from the file, so listings never serve
// a wrong ETag.
//
// Keys map onto paths, which S3 keys in general do not: a key must not be
// empty, start or end with "/", hold an empty segment ("a//b"), a segment
// that starts with "." (which also rules out "." and ".."), or a NUL byte;
// and a key cannot be both an object and a "directory" of other keys ("a"
// and "a/b"). Such puts fail with InvalidArgument. Firehose-style keys —
// what every writer of this store uses — are all fine.
type fileBackend struct {
	root string
	// mu serializes the check-and-rename step of puts and deletes (put
	// conditions, sidecar and object renamed together); data is written
	// to temporary files outside it.
	mu sync.Mutex
}

// objectMeta is the sidecar's content.
type objectMeta struct {
	MD5      string            `json:"md5"`
	Size     int64             `json:"size"`
	ModNanos int64             `json:"mtime_ns"`
	Meta     map[string]string `json:"meta,omitempty"`
}

const (
	metaSuffix = ".meta"
	tmpDirName = ".tmp"
)

func newFileBackend(root string) (*fileBackend, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating object store directory %s: %w", root, err)
	}
	// Temporary files of puts a crash interrupted are never part of an
	// object: start with none.
	tmp := filepath.Join(root, tmpDirName)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("clearing %s: %w", tmp, err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", tmp, err)
	}
	return &fileBackend{root: root}, nil
}

// checkKey refuses keys that do not map onto a path below the bucket.
func checkKey(key string) error {
	bad := func(why string) error {
		return gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "key %q: %s (the embedded store keeps objects as files)", key, why)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > gofakes3.KeySizeLimit:
		return gofakes3.ResourceError(gofakes3.ErrKeyTooLong, key)
	case !utf8.ValidString(key) || strings.ContainsRune(key, 0):
		return bad("not valid UTF-8 or holds a NUL byte")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" {
			return bad("empty path segment (leading, trailing or double slash)")
		}
		if seg[0] == '.' {
			return bad("path segment starts with a dot")
		}
	}
	return nil
}

func (b *fileBackend) bucketDir(bucket string) string { return filepath.Join(b.root, bucket) }

func (b *fileBackend) objectPath(bucket, key string) string {
	return filepath.Join(b.root, bucket, filepath.FromSlash(key))
}

func metaPath(objPath string) string {
	return filepath.Join(filepath.Dir(objPath), "."+filepath.Base(objPath)+metaSuffix)
}

// requireBucket returns NoSuchBucket unless bucket exists.
func (b *fileBackend) requireBucket(bucket string) error {
	ok, err := b.BucketExists(bucket)
	if err != nil {
		return err
	}
	if !ok {
		return gofakes3.BucketNotFound(bucket)
	}
	return nil
}

// ListBuckets lists the bucket directories.
func (b *fileBackend) ListBuckets() ([]gofakes3.BucketInfo, error) {
	entries, err := os.ReadDir(b.root)
	if err != nil {
		return nil, fmt.Errorf("listing buckets in %s: %w", b.root, err)
	}
	var out []gofakes3.BucketInfo
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, gofakes3.BucketInfo{Name: e.Name(), CreationDate: gofakes3.NewContentTime(info.ModTime())})
	}
	return out, nil
}

// BucketExists says whether the bucket's directory exists.
func (b *fileBackend) BucketExists(name string) (bool, error) {
	if gofakes3.ValidateBucketName(name) != nil {
		return false, nil
	}
	st, err := os.Stat(b.bucketDir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bucket %q: %w", name, err)
	}
	return st.IsDir(), nil
}

// CreateBucket makes the bucket's directory.
func (b *fileBackend) CreateBucket(name string) error {
	if err := gofakes3.ValidateBucketName(name); err != nil {
		return err
	}
	err := os.Mkdir(b.bucketDir(name), 0o700)
	if errors.Is(err, fs.ErrExist) {
		return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
	}
	if err != nil {
		return fmt.Errorf("creating bucket %q: %w", name, err)
	}
	return syncDir(b.root)
}

// DeleteBucket removes an empty bucket.
func (b *fileBackend) DeleteBucket(name string) error {
	if err := b.requireBucket(name); err != nil {
		return err
	}
	empty := true
	if err := b.walk(name, "", "", func(string, fs.FileInfo) bool { empty = false; return false }); err != nil {
		return err
	}
	if !empty {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	if err := os.RemoveAll(b.bucketDir(name)); err != nil {
		return fmt.Errorf("deleting bucket %q: %w", name, err)
	}
	return nil
}

// ForceDeleteBucket removes a bucket and everything in it.
func (b *fileBackend) ForceDeleteBucket(name string) error {
	if err := b.requireBucket(name); err != nil {
		return err
	}
	if err := os.RemoveAll(b.bucketDir(name)); err != nil {
		return fmt.Errorf("deleting bucket %q: %w", name, err)
	}
	return nil
}

// walk calls fn for each object of bucket in key order, starting after
// marker (if not empty) and skipping every directory that cannot hold a key
// starting with prefix, until fn returns false.
//
// Sorting each directory's entries by name, with "/" appended to
// directories' names, yields keys in S3's (byte) order: all keys below
// directory "d" start with "d/".
func (b *fileBackend) walk(bucket, prefix, marker string, fn func(key string, info fs.FileInfo) bool) error {
	var rec func(dir, keyPrefix string) (bool, error)
	rec = func(dir, keyPrefix string) (bool, error) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && keyPrefix != "" {
				return true, nil // removed meanwhile
			}
			return false, fmt.Errorf("listing %s: %w", dir, err)
		}
		type entry struct {
			name string // with "/" for directories
			e    fs.DirEntry
		}
		list := make([]entry, 0, len(entries))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue // sidecars, temporary files
			}
			n := e.Name()
			if e.IsDir() {
				n += "/"
			}
			list = append(list, entry{n, e})
		}
		slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.name, b.name) })
		for _, en := range list {
			key := keyPrefix + en.name
			if en.e.IsDir() {
				// Some key below starts with key: it may match the prefix
				// only if one of them is a prefix of the other, and may
				// come after the marker only if key does or is its prefix.
				if !strings.HasPrefix(prefix, key) && !strings.HasPrefix(key, prefix) {
					continue
				}
				if marker != "" && key < marker && !strings.HasPrefix(marker, key) {
					continue
				}
				more, err := rec(filepath.Join(dir, en.e.Name()), key)
				if err != nil || !more {
					return more, err
				}
				continue
			}
			if !strings.HasPrefix(key, prefix) || (marker != "" && key <= marker) {
				continue
			}
			info, err := en.e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if !fn(key, info) {
				return false, nil
			}
		}
		return true, nil
	}
	_, err := rec(b.bucketDir(bucket), "")
	return err
}

// ListBucket lists bucket's objects under prefix, one page at a time.
func (b *fileBackend) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if err := b.requireBucket(name); err != nil {
		return nil, err
	}
	if prefix == nil {
		prefix = &gofakes3.Prefix{}
	}
	objects := gofakes3.NewObjectList()
	var (
		cnt             int64
		lastMatchedPart string
		lastKey         string
		full            bool
		walkErr         error
	)
	marker := ""
	if page.HasMarker {
		marker = page.Marker
	}
	err := b.walk(name, prefix.Prefix, marker, func(key string, info fs.FileInfo) bool {
		var match gofakes3.PrefixMatch
		if !prefix.Match(key, &match) {
			return true
		}
		if full {
			// The page is full; more follows if this key makes a new entry.
			if match.CommonPrefix && match.MatchedPart == lastMatchedPart {
				lastKey = key
				return true
			}
			objects.IsTruncated = true
			objects.NextMarker = lastKey
			return false
		}
		if match.CommonPrefix {
			if match.MatchedPart == lastMatchedPart {
				lastKey = key
				return true
			}
			objects.AddPrefix(match.MatchedPart)
			lastMatchedPart = match.MatchedPart
		} else {
			m, err := b.meta(b.objectPath(name, key), info)
			if err != nil {
				walkErr = err
				return false
			}
			objects.Add(&gofakes3.Content{
				Key:          key,
				ETag:         `"` + m.MD5 + `"`,
				Size:         info.Size(),
				LastModified: gofakes3.NewContentTime(info.ModTime().UTC()),
			})
		}
		lastKey = key
		cnt++
		if page.MaxKeys > 0 && cnt >= page.MaxKeys {
			full = true
		}
		return true
	})
	if err == nil {
		err = walkErr
	}
	return objects, err
}

// meta returns the object's sidecar, or rebuilds it from the file when it
// is missing, unreadable or does not describe the file as it is now.
func (b *fileBackend) meta(objPath string, info fs.FileInfo) (objectMeta, error) {
	mp := metaPath(objPath)
	if raw, err := os.ReadFile(mp); err == nil {
		var m objectMeta
		if json.Unmarshal(raw, &m) == nil && m.Size == info.Size() && m.ModNanos == info.ModTime().UnixNano() && len(m.MD5) == 32 {
			return m, nil
		}
	}
	f, err := os.Open(objPath)
	if err != nil {
		return objectMeta{}, fmt.Errorf("reading object %s: %w", objPath, err)
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return objectMeta{}, fmt.Errorf("reading object %s: %w", objPath, err)
	}
	m := objectMeta{MD5: hex.EncodeToString(h.Sum(nil)), Size: info.Size(), ModNanos: info.ModTime().UnixNano()}
	// Best effort: the next listing is cheaper, and a failure here only
	// costs that.
	if raw, err := json.Marshal(m); err == nil {
		_ = writeFileAtomic(filepath.Join(b.root, tmpDirName), mp, raw)
	}
	return m, nil
}

// open opens an object's file and its metadata.
func (b *fileBackend) open(bucket, key string) (*os.File, fs.FileInfo, objectMeta, error) {
	if err := b.requireBucket(bucket); err != nil {
		return nil, nil, objectMeta{}, err
	}
	if checkKey(key) != nil {
		return nil, nil, objectMeta{}, gofakes3.KeyNotFound(key)
	}
	path := b.objectPath(bucket, key)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil, objectMeta{}, gofakes3.KeyNotFound(key)
	}
	if err != nil {
		return nil, nil, objectMeta{}, fmt.Errorf("opening object %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, objectMeta{}, fmt.Errorf("opening object %s: %w", path, err)
	}
	if info.IsDir() {
		f.Close()
		return nil, nil, objectMeta{}, gofakes3.KeyNotFound(key)
	}
	m, err := b.meta(path, info)
	if err != nil {
		f.Close()
		return nil, nil, objectMeta{}, err
	}
	return f, info, m, nil
}

// HeadObject returns an object's size, ETag and metadata.
func (b *fileBackend) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	f, info, m, err := b.open(bucket, key)
	if err != nil {
		return nil, err
	}
	f.Close()
	return &gofakes3.Object{Name: key, Metadata: m.Meta, Size: info.Size(), Hash: mustHex(m.MD5), Contents: io.NopCloser(bytes.NewReader(nil))}, nil
}

// GetObject returns the object with its open file as contents (the server
// closes it), seeked to the requested range.
func (b *fileBackend) GetObject(bucket, key string, rangeRequest *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	f, info, m, err := b.open(bucket, key)
	if err != nil {
		return nil, err
	}
	rng, err := rangeRequest.Range(info.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	var contents io.ReadCloser = f
	if rng != nil {
		if _, err := f.Seek(rng.Start, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("reading object %q: %w", key, err)
		}
		contents = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(f, rng.Length), f}
	}
	return &gofakes3.Object{Name: key, Metadata: m.Meta, Size: info.Size(), Hash: mustHex(m.MD5), Range: rng, Contents: contents}, nil
}

func mustHex(s string) []byte {
	h, _ := hex.DecodeString(s) // validated by meta
	return h
}

// PutObject writes the object to a temporary file (hashing it on the way),
// syncs it, then renames it and its sidecar into place: a crash leaves the
// old object or the new one, never a part.
func (b *fileBackend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	if err := b.requireBucket(bucket); err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	if err := checkKey(key); err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	tmp, err := b.tempFile()
	if err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), input)
	if err == nil && n != size {
		err = gofakes3.ErrorMessagef(gofakes3.ErrIncompleteBody, "body of %q: %d bytes, Content-Length %d", key, n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	var info fs.FileInfo
	if err == nil {
		info, err = tmp.Stat()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var gerr gofakes3.Error
		if errors.As(err, &gerr) {
			return gofakes3.PutObjectResult{}, err
		}
		return gofakes3.PutObjectResult{}, fmt.Errorf("writing object %q: %w", key, err)
	}
	m := objectMeta{MD5: hex.EncodeToString(h.Sum(nil)), Size: info.Size(), ModNanos: info.ModTime().UnixNano(), Meta: meta}
	raw, err := json.Marshal(m)
	if err != nil {
		return gofakes3.PutObjectResult{}, fmt.Errorf("metadata of %q: %w", key, err)
	}

	path := b.objectPath(bucket, key)
	b.mu.Lock()
	defer b.mu.Unlock()
	if conditions != nil && (conditions.IfMatch != nil || conditions.IfNoneMatch != nil) {
		cur := &gofakes3.ConditionalObjectInfo{}
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			cm, err := b.meta(path, st)
			if err != nil {
				return gofakes3.PutObjectResult{}, err
			}
			cur.Exists, cur.Hash = true, mustHex(cm.MD5)
		}
		if err := gofakes3.CheckPutConditions(conditions, cur); err != nil {
			return gofakes3.PutObjectResult{}, err
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return gofakes3.PutObjectResult{}, gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "key %q: a prefix of it is already an object (%v)", key, err)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return gofakes3.PutObjectResult{}, gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument, "key %q: other keys start with %q; the embedded store cannot hold both", key, key+"/")
	}
	if err := writeFileAtomic(filepath.Join(b.root, tmpDirName), metaPath(path), raw); err != nil {
		return gofakes3.PutObjectResult{}, fmt.Errorf("writing metadata of %q: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return gofakes3.PutObjectResult{}, fmt.Errorf("writing object %q: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return gofakes3.PutObjectResult{}, fmt.Errorf("writing object %q: %w", key, err)
	}
	return gofakes3.PutObjectResult{}, nil
}

// tempFile creates a file in the store's temporary directory (on the same
// file system as every object, so a rename moves it in one step).
func (b *fileBackend) tempFile() (*os.File, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	path := filepath.Join(b.root, tmpDirName, hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating temporary object file: %w", err)
	}
	return f, nil
}

// writeFileAtomic writes data to path through a synced temporary file in
// tmpDir and a rename.
func writeFileAtomic(tmpDir, path string, data []byte) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(tmpDir, hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}

// DeleteObject removes an object and its sidecar, then the directories
// that become empty. Deleting a missing key succeeds, as in S3.
func (b *fileBackend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	if err := b.requireBucket(bucket); err != nil {
		return gofakes3.ObjectDeleteResult{}, err
	}
	if checkKey(key) != nil {
		return gofakes3.ObjectDeleteResult{}, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	path := b.objectPath(bucket, key)
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return gofakes3.ObjectDeleteResult{}, nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return gofakes3.ObjectDeleteResult{}, fmt.Errorf("deleting object %q: %w", key, err)
	}
	_ = os.Remove(metaPath(path))
	// Empty directories would list as nothing but clutter the tree.
	stop := b.bucketDir(bucket)
	for dir := filepath.Dir(path); dir != stop && strings.HasPrefix(dir, stop); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty
		}
	}
	return gofakes3.ObjectDeleteResult{}, nil
}

// DeleteMulti deletes each key, reporting failures per key.
func (b *fileBackend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var res gofakes3.MultiDeleteResult
	for _, k := range keys {
		if _, err := b.DeleteObject(bucket, k); err != nil {
			res.Error = append(res.Error, gofakes3.ErrorResultFromError(err))
			continue
		}
		res.Deleted = append(res.Deleted, gofakes3.ObjectID{Key: k})
	}
	return res, nil
}

// CopyObject copies through a put, so the copy is a file of its own.
func (b *fileBackend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	f, info, m, err := b.open(srcBucket, srcKey)
	if err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	defer f.Close()
	if meta == nil {
		meta = m.Meta
	}
	if _, err := b.PutObject(dstBucket, dstKey, meta, f, info.Size(), nil); err != nil {
		return gofakes3.CopyObjectResult{}, err
	}
	return gofakes3.CopyObjectResult{ETag: `"` + m.MD5 + `"`, LastModified: gofakes3.NewContentTime(time.Now().UTC())}, nil
}
