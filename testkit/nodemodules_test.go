package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNodeModulesCurrent(t *testing.T) {
	lock := `{"packages": {"": {"name": "x"},
		"node_modules/a": {"version": "1.0.0", "integrity": "sha512-a"},
		"node_modules/@esbuild/win32-x64": {"version": "0.1.0", "integrity": "sha512-w", "optional": true}}}`
	for _, c := range []struct {
		name, installed, wantErr string
	}{
		{"current, other platform's optional package absent", `{"packages": {"node_modules/a": {"version": "1.0.0", "integrity": "sha512-a"}}}`, ""},
		{"not installed", "", "not installed"},
		{"older version", `{"packages": {"node_modules/a": {"version": "0.9.0", "integrity": "sha512-old"}}}`, "a is 0.9.0, package-lock.json pins 1.0.0"},
		{"package missing", `{"packages": {}}`, "node_modules/a is not installed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(lock), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.installed != "" {
				os.Mkdir(filepath.Join(dir, "node_modules"), 0o755)
				if err := os.WriteFile(filepath.Join(dir, "node_modules", ".package-lock.json"), []byte(c.installed), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := nodeModulesCurrent(dir)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}
