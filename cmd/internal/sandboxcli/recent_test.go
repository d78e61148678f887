package sandboxcli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOneWriterOfRecentIDs: the commands write the file of recently used
// sandboxes only through RememberSandbox and ForgetSandbox, so that what
// recording means (which file, which clock, silence on failure) is
// decided once: `sandbox` commands' rememberAfter and destroy --ledger
// each wrote it their own way beside them.
func TestOneWriterOfRecentIDs(t *testing.T) {
	const pkg = "github.com/nimbus-sh/nimbus/internal/recentids"
	own, _ := filepath.Abs("complete.go")
	files := 0
	err := filepath.WalkDir(filepath.Join("..", ".."), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		files++
		if abs, _ := filepath.Abs(p); abs == own {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			return err
		}
		name := ""
		for _, imp := range f.Imports {
			if v, _ := strconv.Unquote(imp.Path.Value); v == pkg {
				name = path.Base(pkg)
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == name && (sel.Sel.Name == "Remember" || sel.Sel.Name == "Forget") {
					t.Errorf("%s calls recentids.%s: use sandboxcli.RememberSandbox or ForgetSandbox", p, sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d files: wrong directory?", files)
	}
}
