// Command mkzip packs one Lambda bootstrap executable into a deployment
// package: a zip holding just `bootstrap`, mode 0755, as the provided.al2023
// runtime expects. The entry's time is fixed, so the same binary always
// gives the same zip bytes and deployment tools that hash the package
// (CDK assets, Terraform's source_code_hash) see no change without a
// change in code. `make lambda` runs it; the standard library's
// archive/zip keeps the build free of a zip(1) dependency.
//
// Usage: go run ./cmd/lambda/internal/mkzip <bootstrap> <out.zip>
package main

import (
	"archive/zip"
	"compress/flate"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkzip <bootstrap> <out.zip>")
		os.Exit(2)
	}
	if err := pack(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		os.Exit(1)
	}
}

// epoch is the fixed modification time of the zip entry (zip's earliest
// representable date), for reproducible packages.
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// pack writes the zip to a temporary file beside out and renames it into
// place, so an interrupted build never leaves a truncated package.
func pack(bootstrap, out string) error {
	in, err := os.Open(bootstrap)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".mkzip-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	zw := zip.NewWriter(tmp)
	// Smallest package: it is uploaded per deploy and fetched per cold start.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: epoch}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("compressing %s: %w", bootstrap, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	// CreateTemp makes the file private; a build output is world-readable.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
