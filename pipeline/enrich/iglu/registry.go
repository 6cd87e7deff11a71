package iglu

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrNotFound is returned by a Registry that does not hold a schema.
var ErrNotFound = errors.New("schema not found")

// Registry is one place schemas are looked up in.
type Registry interface {
	// Name identifies the registry in errors and bad rows.
	Name() string
	// Lookup returns the schema document, ErrNotFound, or another error
	// (the registry could not be asked).
	Lookup(ctx context.Context, key SchemaKey) ([]byte, error)
}

// maxSchemaBytes bounds what a registry may return, so a misconfigured
// endpoint cannot make the enricher buffer an arbitrary amount.
const maxSchemaBytes = 4 << 20

// DirRegistry reads a local static registry: Root/schemas/vendor/name/format/version
// (Root may also point at the schemas directory itself).
type DirRegistry struct{ Root string }

// Name implements Registry.
func (d DirRegistry) Name() string { return "dir:" + d.Root }

// Lookup implements Registry.
func (d DirRegistry) Lookup(_ context.Context, key SchemaKey) ([]byte, error) {
	for _, base := range []string{filepath.Join(d.Root, "schemas"), d.Root} {
		p := filepath.Join(base, filepath.FromSlash(key.Path()))
		b, err := os.ReadFile(p)
		if err == nil {
			return b, nil
		}
		// ENOTDIR: a path component is a file, so the schema is not there.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
	}
	return nil, ErrNotFound
}

// HTTPRegistry is a static registry served over HTTP(S): BaseURL/schemas/vendor/name/format/version.
type HTTPRegistry struct {
	BaseURL string
	Client  *http.Client
}

// Name implements Registry.
func (h HTTPRegistry) Name() string { return h.BaseURL }

// Lookup implements Registry. 404 is ErrNotFound; any other failure is an error.
func (h HTTPRegistry) Lookup(ctx context.Context, key SchemaKey) ([]byte, error) {
	url := strings.TrimSuffix(h.BaseURL, "/") + "/schemas/" + key.Path()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("building request for %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, ErrNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSchemaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	if len(b) > maxSchemaBytes {
		return nil, fmt.Errorf("schema at %s exceeds %d bytes", url, maxSchemaBytes)
	}
	return b, nil
}

//go:embed embedded/schemas
var embeddedFS embed.FS

// EmbeddedName names the embedded registry in bad rows and logs.
const EmbeddedName = "embedded"

// Embedded returns the registry compiled into the binary: the Snowplow
// wrappers (payload_data, contexts, unstruct_event), the contexts and
// events the JavaScript and Node trackers send by default, the derived
// contexts the enricher adds, and a gitlab_standard 1-0-9 context. That
// last one was written for plowline from GitLab's published field list:
// it is not GitLab's schema of that version (real GitLab events carry
// gitlab_standard 1-1-x and other com.gitlab schemas from GitLab's own
// Iglu registry, which a configured registry serves before this one).
func Embedded() Registry {
	return fsRegistry{name: EmbeddedName, fsys: embeddedFS, root: "embedded/schemas"}
}

type fsRegistry struct {
	name string
	fsys fs.FS
	root string
}

// Name implements Registry.
func (r fsRegistry) Name() string { return r.name }

// Lookup implements Registry.
func (r fsRegistry) Lookup(_ context.Context, key SchemaKey) ([]byte, error) {
	b, err := fs.ReadFile(r.fsys, r.root+"/"+key.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}

// EmbeddedKeys lists the schemas in the embedded registry (for docs and tests).
func EmbeddedKeys() ([]SchemaKey, error) {
	var keys []SchemaKey
	err := fs.WalkDir(embeddedFS, "embedded/schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		k, err := ParseURI("iglu:" + strings.TrimPrefix(p, "embedded/schemas/"))
		if err != nil {
			return err
		}
		keys = append(keys, k)
		return nil
	})
	return keys, err
}
