package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/kmigrate/kmigrate"

// Packages that only the command line may import. Domain packages never
// import the presentation layers.
var presentation = []string{module + "/internal/cli", module + "/internal/httpapi"}

// Packages that are test support and must not be imported by product code.
var testOnly = []string{module + "/internal/kafkatest"}

const (
	maxLines     = 800
	maxTestLines = 1000
)

type pkg struct {
	dir     string
	hasDoc  bool
	imports map[string][]string // import path -> files
	nonTest int
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func packages(t *testing.T) (map[string]*pkg, map[string]int) {
	t.Helper()
	top := root(t)
	pkgs := map[string]*pkg{}
	lines := map[string]int{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != top && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, path)
		lines[rel] = strings.Count(string(src), "\n")
		f, err := parser.ParseFile(fset, path, src, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(rel)
		p := pkgs[dir]
		if p == nil {
			p = &pkg{dir: dir, imports: map[string][]string{}}
			pkgs[dir] = p
		}
		if strings.HasSuffix(path, "_test.go") {
			return nil
		}
		p.nonTest++
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.hasDoc = true
		}
		for _, im := range f.Imports {
			ip := strings.Trim(im.Path.Value, `"`)
			p.imports[ip] = append(p.imports[ip], rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs, lines
}

func TestEveryPackageHasADocComment(t *testing.T) {
	pkgs, _ := packages(t)
	for _, p := range pkgs {
		if p.nonTest > 0 && !p.hasDoc {
			t.Errorf("package %s has no package doc comment: say why it exists (a doc.go is a good place)", p.dir)
		}
	}
}

func TestDomainPackagesDoNotImportPresentation(t *testing.T) {
	pkgs, _ := packages(t)
	for _, p := range pkgs {
		path := module + "/" + filepath.ToSlash(p.dir)
		if strings.HasPrefix(p.dir, "cmd") || isOneOf(path, presentation) {
			continue
		}
		for im, files := range p.imports {
			if isOneOf(im, presentation) {
				t.Errorf("%s imports %s (in %v): domain packages must not depend on the presentation layer", path, im, files)
			}
		}
	}
}

func TestProductCodeDoesNotImportTestHelpers(t *testing.T) {
	pkgs, _ := packages(t)
	for _, p := range pkgs {
		path := module + "/" + filepath.ToSlash(p.dir)
		if isOneOf(path, testOnly) || strings.HasPrefix(p.dir, "bench") {
			continue
		}
		for im, files := range p.imports {
			if isOneOf(im, testOnly) {
				t.Errorf("%s imports %s (in %v): test helpers are for _test.go files only", path, im, files)
			}
		}
	}
}

func TestFilesStaySmall(t *testing.T) {
	_, lines := packages(t)
	for file, n := range lines {
		limit := maxLines
		if strings.HasSuffix(file, "_test.go") {
			limit = maxTestLines
		}
		if n > limit {
			t.Errorf("%s has %d lines, over the limit of %d: split it by responsibility", file, n, limit)
		}
	}
}

func isOneOf(path string, set []string) bool {
	for _, s := range set {
		if path == s || strings.HasPrefix(path, s+"/") {
			return true
		}
	}
	return false
}
