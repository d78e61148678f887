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
// slip past it; nor does one that writes the id into a command line
// itself ("nimbus sandbox destroy " + res.ID, or a format that names a
// nimbus command given the id), which does not quote it either. The two
// functions that do are allowed, for the reasons their comments give.
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
	// The concatenations already read as part of a longer one.
	inChain := map[*ast.BinaryExpr]bool{}
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
				if b, ok := n.(*ast.BinaryExpr); ok && b.Op == token.ADD && !inChain[b] {
					// A concatenation that names a nimbus command and
					// the id: "nimbus sandbox destroy " + res.ID.
					var parts []ast.Expr
					var flat func(ast.Expr)
					flat = func(e ast.Expr) {
						if p, ok := e.(*ast.ParenExpr); ok {
							e = p.X
						}
						if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.ADD {
							inChain[b] = true
							flat(b.X)
							flat(b.Y)
							return
						}
						parts = append(parts, e)
					}
					flat(b)
					command := false
					for _, p := range parts {
						if lit, ok := p.(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.Contains(lit.Value, "nimbus ") {
							command = true
						}
						if command && ids[text(p)] {
							t.Errorf("%s: %s writes sandbox id %s into a command line by concatenation, not through sandboxcli.Hints", fset.Position(p.Pos()), fn.Name.Name, text(p))
						}
					}
					// The operands were seen whole; a call within one is
					// still inspected.
				}
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				checked++
				if strings.HasPrefix(text(call.Fun), "fmt.") && len(call.Args) > 0 {
					// A format that names a nimbus command, given the id.
					for i, a := range call.Args {
						if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.Contains(lit.Value, "nimbus ") {
							for _, arg := range call.Args[i+1:] {
								if ids[text(arg)] {
									t.Errorf("%s: %s writes sandbox id %s into a command line with %s, not through sandboxcli.Hints", fset.Position(call.Pos()), fn.Name.Name, text(arg), text(call.Fun))
									break
								}
							}
							break
						}
					}
				}
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
