package sandbox

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHintsOnTheSandboxGoThroughHints: every hint or notice of these
// commands that names a command on a sandbox gets the sandbox through
// sandboxcli.Hints (OnSandbox, NoProcessHint, …), which knows when it is
// destroyed: pasted, a command on a destroyed id creates a new, empty
// sandbox with it. A command line that writes the id itself (ArgID, or a
// quote of the id) does not know, and any later destroyed state would
// slip past it. The two functions that do are allowed, for the reasons
// their comments give.
func TestHintsOnTheSandboxGoThroughHints(t *testing.T) {
	allowed := map[string]bool{
		"firstArgID":      true, // usage hints, before any request
		"stillDestroying": true, // names destroy, which is idempotent
	}
	// The expressions that are a sandbox id in these commands.
	ids := map[string]bool{"id": true, "args[0]": true, "sb.ID()": true, "res.ID": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		text := func(n ast.Node) string {
			return string(src[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || allowed[fn.Name.Name] {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				checked++
				switch fun := text(call.Fun); {
				case fun == "sandboxcli.ArgID":
					t.Errorf("%s: %s writes a sandbox id with %s, not through sandboxcli.Hints", fset.Position(call.Pos()), fn.Name.Name, text(call))
				case fun == "shellquote.Quote" && len(call.Args) == 1 && ids[text(call.Args[0])]:
					t.Errorf("%s: %s quotes a sandbox id with %s, not through sandboxcli.Hints", fset.Position(call.Pos()), fn.Name.Name, text(call))
				}
				return true
			})
		}
	}
	if checked < 100 {
		t.Fatalf("only %d calls checked: the sources were not read", checked)
	}
}
