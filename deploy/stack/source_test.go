package stack

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

var envNameRE = regexp.MustCompile(`^PLOWLINE_[A-Z0-9_]+$`)

// scanGo parses the non-test Go files of dir (only the named ones, if
// any) and returns the PLOWLINE_* string literals and the import paths.
func scanGo(dir string, only []string) (lits, imports []string, err error) {
	files := only
	if files == nil {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
				files = append(files, n)
			}
		}
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			imports = append(imports, p)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING {
				if s, err := strconv.Unquote(bl.Value); err == nil && envNameRE.MatchString(s) {
					lits = append(lits, s)
				}
			}
			return true
		})
	}
	return lits, imports, nil
}
