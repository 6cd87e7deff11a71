package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/plowline/plowline/pipeline/lake"
)

// checkState looks at the data directory's state files before anything
// starts, so a damaged or missing file is a clear error rather than a
// crash or a silent reset. The warehouse decides what is "missing": once
// it has loaded objects, a missing or empty HMAC key would silently change
// every pseudonym, and an empty object store means the lake was lost.
// cfg.AllowNewKey and cfg.AllowEmptyObjectStore accept those on purpose.
func checkState(cfg Config) error {
	whPath := filepath.Join(cfg.DataDir, WarehouseFile)
	var loaded int64
	if st, err := os.Stat(whPath); err == nil && st.Size() > 0 {
		db, err := lake.OpenReadOnly(whPath)
		if err == nil {
			err = db.QueryRow("SELECT COUNT(*) FROM " + lake.TableLoaded).Scan(&loaded)
			db.Close()
		}
		if err != nil {
			return fmt.Errorf("warehouse %s is damaged or not a plowline warehouse (%v): restore it from a backup, "+
				"or move it away to start with an empty warehouse (its rows are then gone)", whPath, err)
		}
	}
	keyPath := filepath.Join(cfg.DataDir, KeyFile)
	st, err := os.Stat(keyPath)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("HMAC key file %s: %w", keyPath, err)
	case err == nil && st.Size() > 0:
		// Present; LoadKey checks its content.
	case loaded > 0 && !cfg.AllowNewKey:
		what := "is missing"
		if err == nil {
			what = "is empty"
		}
		return fmt.Errorf("HMAC key file %s %s, but the warehouse %s holds %d loaded objects: a new key would change every pseudonym. "+
			"Restore the key file from a backup, or start with --allow-new-key to accept new pseudonyms", keyPath, what, whPath, loaded)
	case err == nil:
		// Empty and nothing depends on it (or allowed): make a new one.
		if err := os.Remove(keyPath); err != nil {
			return fmt.Errorf("replacing empty HMAC key file %s: %w", keyPath, err)
		}
	}
	if loaded > 0 && !cfg.AllowEmptyObjectStore {
		bucketDir := filepath.Join(cfg.DataDir, lake.ObjectStoreDir, cfg.Bucket)
		if empty, err := dirHasNoFiles(bucketDir); err != nil {
			return fmt.Errorf("object store %s: %w", bucketDir, err)
		} else if empty {
			return fmt.Errorf("object store %s is missing or empty, but the warehouse %s holds %d loaded objects: the lake was lost or moved. "+
				"Restore it, or start with --allow-empty-object-store to go on without it", bucketDir, whPath, loaded)
		}
	}
	return nil
}

// dirHasNoFiles reports whether dir (missing counts as empty) holds no
// object file at any depth; hidden files (sidecars) do not count.
func dirHasNoFiles(dir string) (bool, error) {
	empty := true
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			empty = false
			return fs.SkipAll
		}
		return nil
	})
	return empty, err
}
