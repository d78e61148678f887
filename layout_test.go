package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestInternalImportsNoPkg holds the layout rule of CONTRIBUTING.md:
// internal/ is the ground floor and imports neither pkg/ nor cmd/; a
// helper that needs pkg/ lives with the commands, in cmd/internal/. And
// pkg/ never imports cmd/.
func TestInternalImportsNoPkg(t *testing.T) {
	const module = "github.com/nimbus-sh/nimbus/"
	rules := map[string][]string{
		"internal": {module + "pkg/", module + "cmd/"},
		"pkg":      {module + "cmd/"},
	}
	checked := 0
	for dir, banned := range rules {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range banned {
					if strings.HasPrefix(p, b) {
						t.Errorf("%s imports %s: %s/ must not import %s", path, p, dir, strings.TrimPrefix(b, module))
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: wrong directory?", checked)
	}
}

// TestPkgReadsNoGlobalState holds the other half of the pkg/ rule: a
// library another Go program imports must take its inputs as arguments and
// report through its return values, or that program cannot run two of it
// with different settings, nor keep its own output clean. So no pkg/ code
// reads the environment, the arguments or the standard streams, nor prints.
// The one exception is the sandbox init: it is a process of its own
// (re-executed from this binary), and its arguments are its input.
func TestPkgReadsNoGlobalState(t *testing.T) {
	banned := map[string]map[string]bool{
		"os":  {"Getenv": true, "LookupEnv": true, "Environ": true, "ExpandEnv": true, "Args": true, "Stdin": true, "Stdout": true, "Stderr": true},
		"fmt": {"Print": true, "Printf": true, "Println": true},
		"log": {"Print": true, "Printf": true, "Println": true, "Fatal": true, "Fatalf": true, "Fatalln": true, "Panic": true, "Panicf": true, "Panicln": true},
	}
	allowed := map[string]bool{
		// MaybeRun: os.Args[0] says this process is the init.
		filepath.FromSlash("pkg/localsandbox/internal/sandboxinit/sandboxinit.go") + " os.Args": true,
	}
	checked := 0
	err := filepath.WalkDir("pkg", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		// The names the file gives the banned packages.
		local := map[string]string{}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if banned[p] == nil {
				continue
			}
			name := p
			if imp.Name != nil {
				name = imp.Name.Name
			}
			local[name] = p
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				id, ok := n.X.(*ast.Ident)
				if !ok || id.Obj != nil { // id.Obj: a local variable, not the package
					return true
				}
				p := local[id.Name]
				if p == "" || !banned[p][n.Sel.Name] {
					return true
				}
				use := p + "." + n.Sel.Name
				if !allowed[path+" "+use] {
					t.Errorf("%s: %s: pkg/ must not read the environment, the arguments or the standard streams, nor print; take the value (or an io.Writer) as an argument", fset.Position(n.Pos()), use)
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Obj == nil && (id.Name == "print" || id.Name == "println") {
					t.Errorf("%s: %s: pkg/ must not print", fset.Position(n.Pos()), id.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: wrong directory?", checked)
	}
}
