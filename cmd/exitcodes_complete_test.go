package cmd_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/cmd/internal/tokencli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/exitcode"
	"github.com/nimbus-sh/nimbus/pkg/npmregistry"
	"github.com/nimbus-sh/nimbus/pkg/provision"
	"github.com/nimbus-sh/nimbus/pkg/runtimesync"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
	"github.com/nimbus-sh/nimbus/pkg/scaffold"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
	tok "github.com/nimbus-sh/nimbus/pkg/token"
)

// modulePath is the import path of the repository root.
const modulePath = "github.com/nimbus-sh/nimbus"

// testSupportDirs hold code the nimbus binary never runs (conformance
// suites and fakes for tests): the codes they name are not the program's.
var testSupportDirs = []string{
	"pkg/sandboxclient/conformance", "pkg/sandboxclient/sandboxtest",
	"internal/cftest", "internal/npmtest", "internal/proctest", "internal/loadtest",
}

// codeLiteral is a stable code as the sources spell it: E_ errors, W_
// warnings. A literal ending in "_" is a prefix completed at run time.
var codeLiteral = regexp.MustCompile(`^"([EW]_[A-Z0-9_]+)"$`)

// codeFamily is a family of codes as the sources format them: a prefix
// and the number %d gives it at run time, an HTTP status (E_HTTP_%d, the
// code of an error answer without one). The page names the family
// PREFIX<status> (`E_HTTP_<status>`), since no one status is the code.
var codeFamily = regexp.MustCompile(`^"([A-Z][A-Z0-9_]*_)%d"$`)

// familyMember is a code of a family as a command reports it
// (E_HTTP_502).
var familyMember = regexp.MustCompile(`^([A-Z][A-Z0-9_]*_)[0-9]{3}$`)

// familyOf is the family a code a command reported belongs to
// ("E_HTTP_<status>" for E_HTTP_502), or the code itself.
func familyOf(code string) string {
	if m := familyMember.FindStringSubmatch(code); m != nil {
		return m[1] + "<status>"
	}
	return code
}

// sourceFile is one parsed non-test Go file of the program.
type sourceFile struct {
	dir  string // relative to the repository root, slash-separated
	file *ast.File
}

// programSources parses every non-test Go file of the repository that
// the binary can run.
func programSources(t *testing.T) []sourceFile {
	t.Helper()
	var out []sourceFile
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(strings.TrimPrefix(p, ".."), string(filepath.Separator)))
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "" || d.Name() == "testdata" || slices.Contains(testSupportDirs, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out = append(out, sourceFile{dir: path.Dir(rel), file: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cloudflareCode is a Cloudflare error code nimbus passes on as its own
// (10042, R2 not enabled), named by a Code constant.
var cloudflareCode = regexp.MustCompile(`^"(1[0-9]{4})"$`)

// sourceCodes is every stable code a string literal of the program holds,
// and the Cloudflare codes its Code constants name.
func sourceCodes(files []sourceFile) map[string]bool {
	codes := map[string]bool{}
	for _, sf := range files {
		for _, decl := range sf.file.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.CONST {
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if lit, ok := valueAt(vs, i).(*ast.BasicLit); ok && strings.HasPrefix(name.Name, "Code") {
							if m := cloudflareCode.FindStringSubmatch(lit.Value); m != nil {
								codes[m[1]] = true
							}
						}
					}
				}
			}
		}
		ast.Inspect(sf.file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if m := codeLiteral.FindStringSubmatch(lit.Value); m != nil {
					codes[m[1]] = true
				}
				if m := codeFamily.FindStringSubmatch(lit.Value); m != nil {
					codes[m[1]+"<status>"] = true
				}
			}
			return true
		})
	}
	return codes
}

// resolver turns the expressions of a call into the values they name:
// string constants of the program's packages and exitcode's constants.
type resolver struct {
	strs  map[string]string // "<package dir>.<Name>" -> value
	exits map[string]int    // exitcode.<Name> -> value
}

func newResolver(files []sourceFile) *resolver {
	r := &resolver{strs: map[string]string{}, exits: map[string]int{}}
	for _, sf := range files {
		for _, decl := range sf.file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					switch v := vs.Values[i].(type) {
					case *ast.BasicLit:
						if v.Kind == token.STRING {
							s, _ := strconv.Unquote(v.Value)
							r.strs[sf.dir+"."+name.Name] = s
						}
						if v.Kind == token.INT && sf.dir == "internal/exitcode" {
							n, _ := strconv.Atoi(v.Value)
							r.exits[name.Name] = n
						}
					case *ast.SelectorExpr: // CodeX = sc.CodeY
						r.strs[sf.dir+"."+name.Name] = "=" + exprKey(sf, v)
					}
				}
			}
		}
	}
	return r
}

// exprKey names an identifier or a package-qualified selector as
// "<package dir>.<Name>", the key of resolver.strs.
func exprKey(sf sourceFile, e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return sf.dir + "." + e.Name
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		if !ok {
			return ""
		}
		for _, imp := range sf.file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			name := path.Base(p)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			if name == x.Name && strings.HasPrefix(p, modulePath+"/") {
				return strings.TrimPrefix(p, modulePath+"/") + "." + e.Sel.Name
			}
		}
	}
	return ""
}

// code resolves a code argument: a literal or a constant; ok is false for
// anything computed.
func (r *resolver) code(sf sourceFile, e ast.Expr) (string, bool) {
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		s, _ := strconv.Unquote(lit.Value)
		return s, true
	}
	v, ok := r.strs[exprKey(sf, e)]
	for i := 0; ok && strings.HasPrefix(v, "=") && i < 4; i++ {
		v, ok = r.strs[v[1:]]
	}
	return v, ok && !strings.HasPrefix(v, "=")
}

// exit resolves an exit argument: exitcode.X or an integer literal.
func (r *resolver) exit(sf sourceFile, e ast.Expr) (int, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		n, err := strconv.Atoi(e.Value)
		return n, err == nil
	case *ast.SelectorExpr:
		if key := exprKey(sf, e); strings.HasPrefix(key, "internal/exitcode.") {
			n, ok := r.exits[e.Sel.Name]
			return n, ok
		}
	}
	return 0, false
}

// pairs is the set of exit codes each stable code is given.
type pairs map[string]map[int]bool

func (p pairs) add(code string, exit int) {
	if p[code] == nil {
		p[code] = map[int]bool{}
	}
	p[code][exit] = true
}

// kindExits is the exit code of each Kind constant of the classified
// libraries, by "<package dir>.<Name>", through the libraries' own
// ExitCode.
var kindExits = func() map[string]int {
	m := map[string]int{}
	for name, k := range map[string]provision.Kind{"Usage": provision.KindUsage, "Data": provision.KindData,
		"Unavailable": provision.KindUnavailable, "Config": provision.KindConfig, "CantCreate": provision.KindCantCreate,
		"Permission": provision.KindPermission, "Interrupted": provision.KindInterrupted, "Internal": provision.KindInternal,
		"OSErr": provision.KindOSErr} {
		m["pkg/provision.Kind"+name] = k.ExitCode()
	}
	for name, k := range map[string]runtimesync.Kind{"Usage": runtimesync.KindUsage, "Data": runtimesync.KindData,
		"Unavailable": runtimesync.KindUnavailable, "Config": runtimesync.KindConfig, "CantCreate": runtimesync.KindCantCreate,
		"Conflict": runtimesync.KindConflict, "Interrupted": runtimesync.KindInterrupted,
		"Internal": runtimesync.KindInternal} {
		m["pkg/runtimesync.Kind"+name] = k.ExitCode()
	}
	for name, k := range map[string]npmregistry.Kind{"Unavailable": npmregistry.KindUnavailable, "NotFound": npmregistry.KindNotFound,
		"Integrity": npmregistry.KindIntegrity, "Invalid": npmregistry.KindInvalid, "Interrupted": npmregistry.KindInterrupted} {
		m["pkg/npmregistry.Kind"+name] = k.ExitCode()
	}
	return m
}()

// httpStatuses are the net/http names the servers answer with.
var httpStatuses = map[string]int{
	"StatusBadRequest": http.StatusBadRequest, "StatusUnauthorized": http.StatusUnauthorized, "StatusForbidden": http.StatusForbidden,
	"StatusNotFound": http.StatusNotFound, "StatusMethodNotAllowed": http.StatusMethodNotAllowed, "StatusRequestTimeout": http.StatusRequestTimeout,
	"StatusRequestEntityTooLarge": http.StatusRequestEntityTooLarge, "StatusTooManyRequests": http.StatusTooManyRequests,
	"StatusInternalServerError": http.StatusInternalServerError, "StatusBadGateway": http.StatusBadGateway,
	"StatusServiceUnavailable": http.StatusServiceUnavailable,
}

// servedCode is a code a nimbus server (nimbus dev, the local backend)
// answers, with the HTTP status it answers it with.
type servedCode struct {
	code   string
	status int
}

// programExits finds in the sources every place that gives a stable code
// an exit code, and returns the exit codes each code gets:
//   - clierr.New and clierr.Wrap with a constant code and exit;
//   - the Kind and Code of the classified libraries' errors
//     (provision, runtimesync, npmregistry), through Kind.ExitCode;
//   - sandboxserver.NewError (the answers of nimbus dev), through
//     sandboxcli.RemoteExit, the mapping of a client receiving it.
//
// The codes whose exit a mapping function decides from the code alone
// (sandboxclient's, transfer's, scaffold's, terminal's, token's) are
// added by calling that function.
func programExits(t *testing.T, files []sourceFile) (pairs, []servedCode) {
	t.Helper()
	r := newResolver(files)
	if r.exits["Usage"] != exitcode.Usage || r.exits["Interrupted"] != exitcode.Interrupted {
		t.Fatalf("internal/exitcode not parsed: %v", r.exits)
	}
	got := pairs{}
	var served []servedCode
	// Functions that pass a code parameter to clierr (localdev's
	// LoadOrCreateSecret): the exits each parameter is given, so that
	// their callers' constant codes get them.
	paramExits := map[string]map[int][]int{}
	for _, sf := range files {
		for _, decl := range sf.file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Body == nil {
				continue
			}
			params := map[string]int{}
			i := 0
			for _, field := range fn.Type.Params.List {
				for _, name := range field.Names {
					params[name.Name] = i
					i++
				}
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				args := call.Args
				switch exprKey(sf, call.Fun) {
				case "internal/clierr.Wrap":
					args = args[1:]
				case "internal/clierr.New":
				default:
					return true
				}
				id, ok := args[1].(*ast.Ident)
				if !ok {
					return true
				}
				exit, eok := r.exit(sf, args[0])
				if pi, isParam := params[id.Name]; isParam && eok {
					key := sf.dir + "." + fn.Name.Name
					if paramExits[key] == nil {
						paramExits[key] = map[int][]int{}
					}
					paramExits[key][pi] = append(paramExits[key][pi], exit)
				}
				return true
			})
		}
	}
	for _, sf := range files {
		ast.Inspect(sf.file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				key := exprKey(sf, n.Fun)
				if sf.dir == "internal/clierr" {
					if id, ok := n.Fun.(*ast.Ident); ok {
						key = "internal/clierr." + id.Name
					}
				}
				args := n.Args
				for pi, exits := range paramExits[key] {
					if pi >= len(args) {
						continue
					}
					if code, ok := r.code(sf, args[pi]); ok {
						for _, exit := range exits {
							got.add(code, exit)
						}
					}
				}
				switch key {
				case "internal/clierr.Wrap":
					args = args[1:]
					fallthrough
				case "internal/clierr.New":
					exit, eok := r.exit(sf, args[0])
					code, cok := r.code(sf, args[1])
					if eok && cok {
						got.add(code, exit)
					}
				case "pkg/sandboxserver.NewError":
					code, cok := r.code(sf, args[1])
					status := 0
					switch s := args[0].(type) {
					case *ast.BasicLit:
						status, _ = strconv.Atoi(s.Value)
					case *ast.SelectorExpr:
						status = httpStatuses[s.Sel.Name]
					}
					if cok && status != 0 {
						served = append(served, servedCode{code, status})
						got.add(code, sandboxcli.RemoteExit(status, code, ""))
					}
				}
				if sf.dir == "pkg/sandboxserver" {
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "NewError" {
						// Within the package itself.
						code, cok := r.code(sf, n.Args[1])
						status := 0
						if s, ok := n.Args[0].(*ast.SelectorExpr); ok {
							status = httpStatuses[s.Sel.Name]
						}
						if cok && status != 0 {
							served = append(served, servedCode{code, status})
							got.add(code, sandboxcli.RemoteExit(status, code, ""))
						}
					}
				}
			case *ast.CompositeLit:
				var kind, code ast.Expr
				for _, el := range n.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					switch k, _ := kv.Key.(*ast.Ident); {
					case k == nil:
					case k.Name == "Kind":
						kind = kv.Value
					case k.Name == "Code":
						code = kv.Value
					}
				}
				if kind == nil || code == nil {
					return true
				}
				exit, kok := kindExits[exprKey(sf, kind)]
				c, cok := r.code(sf, code)
				if kok && cok {
					got.add(c, exit)
				}
			}
			return true
		})
	}

	// The mapping functions that decide from the code alone.
	for _, code := range []string{sc.CodeAPINotEnabled, sc.CodeTransport, sc.CodeBadResponse, sc.CodeFileChanged,
		sc.CodeStreamTruncated, sc.CodeStreamProtocol, sc.CodeExecFailed, sc.CodeWriteTooLarge, sc.CodeInvalidArgument,
		sc.CodeInvalidToken, sc.CodeSandboxID, sc.CodeHTTPTimeout, sc.CodeGateway} {
		got.add(code, sandboxcli.LocalExit(code))
	}
	if status, w := sandboxcli.CommandExit(256, "256"); w != nil {
		got.add(w.Code, status)
	}
	got.add(sc.CodeTimeout, cliError(sandboxcli.Error(&sc.Error{Code: sc.CodeTimeout, Err: errDeadline})).Exit)
	for _, code := range []string{transfer.CodeIsDirectory, transfer.CodeNotFound, transfer.CodeBadTarget, transfer.CodeLocalIO,
		transfer.CodeVerify, transfer.CodeJoin, transfer.CodeChanged, transfer.CodeConflict, transfer.CodeUnsafePath,
		transfer.CodeIgnoreFile, transfer.CodeNoName, transfer.CodeNoParent} {
		got.add(code, cliError(sandboxcli.Error(&transfer.Error{Code: code, Message: "m"})).Exit)
	}
	got.add(transfer.CodePartial, cliError(sandboxcli.Error(&transfer.PartialError{Failures: []transfer.Failure{{Path: "a"}}})).Exit)
	// Not scaffold.CodeToolMissing: init skips the step with a warning.
	for _, code := range []string{scaffold.CodeNameRequired, scaffold.CodeInvalidWorkerName, scaffold.CodeInvalidBucketName,
		scaffold.CodeInvalidPackageName, scaffold.CodeInvalidOption, scaffold.CodeUnknownTemplate, scaffold.CodeTargetNotEmpty,
		scaffold.CodeTargetConflict, scaffold.CodeWriteFailed, scaffold.CodeGitFailed,
		scaffold.CodeGitIdentity, scaffold.CodeInstallFailed} {
		e, _ := clierr.From(&scaffold.Error{Code: code, Message: "m"})
		got.add(code, e.Exit)
	}
	for _, code := range []string{terminal.CodeBusy, terminal.CodeTakenOver, terminal.CodeUnavailable, terminal.CodeHandshake,
		terminal.CodeProtocol, terminal.CodeInterrupted, terminal.CodeInput, terminal.CodeClosedEarly} {
		got.add(code, cliError(sandboxcli.AttachError(&terminal.Error{Code: code, Message: "m"}, sandboxcli.Hints{ID: "job-1"})).Exit)
	}
	for _, status := range []int{401, 403} { // session attach refused with no code
		e := cliError(sandboxcli.AttachError(&terminal.Error{Code: sc.StatusCode(status), Status: status, Message: "m"}, sandboxcli.Hints{ID: "job-1"}))
		got.add(familyOf(e.Code), e.Exit)
	}
	// Token errors: a token given to nimbus (token verify, inspect) or a
	// claim to mint is input data; the same codes in a Worker's answer
	// are the Worker table's. These are the codes Verify and Mint return
	// once the commands have checked that there is a secret.
	for _, te := range []*tok.Error{{Code: tok.CodeTokenMalformed, HTTPStatus: 401}, {Code: tok.CodeTokenSignature, HTTPStatus: 401},
		{Code: tok.CodeTokenClaims, HTTPStatus: 401}, {Code: tok.CodeTokenExpired, HTTPStatus: 401},
		{Code: tok.CodeTokenTTLTooLarge, HTTPStatus: 400}} {
		got.add(te.Code, cliError(tokencli.Error(te)).Exit)
	}
	return got, served
}

// docRow is one row of a table of docs/exit-codes.md: the codes of its
// first cell and its exit cell ("" when the table has none).
type docRow struct {
	section string
	codes   []string
	exit    string
	cells   []string
}

var docCode = regexp.MustCompile("`([EW]_[A-Z0-9_]+|1[0-9]{4}|[A-Z][A-Z0-9_]*_<status>)`")

func valueAt(vs *ast.ValueSpec, i int) ast.Expr {
	if i < len(vs.Values) {
		return vs.Values[i]
	}
	return nil
}

// docRows reads every table of docs/exit-codes.md.
func docRows(t *testing.T) []docRow {
	t.Helper()
	data, err := readDoc("exit-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []docRow
	section, exitCol := "", -1
	var header []string
	for _, line := range strings.Split(data, "\n") {
		if strings.HasPrefix(line, "## ") {
			section, header = strings.TrimPrefix(line, "## "), nil
			continue
		}
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header == nil {
			header, exitCol = cells, slices.Index(cells, "Exit")
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		row := docRow{section: section, cells: cells}
		for _, m := range docCode.FindAllStringSubmatch(cells[0], -1) {
			row.codes = append(row.codes, m[1])
		}
		if exitCol >= 0 {
			row.exit = cells[exitCol]
		}
		rows = append(rows, row)
	}
	return rows
}

// TestExitCodeTableComplete checks that docs/exit-codes.md lists every
// stable code the program's sources hold and no other, and that the exit
// codes it gives each code are those the program gives it: every exit a
// code gets somewhere in the sources (or from the mapping functions) has
// a row, and every row's exit is one the program gives. A new code, or a
// code given a new exit code, fails here until the table says so.
func TestExitCodeTableComplete(t *testing.T) {
	files := programSources(t)
	inSources := sourceCodes(files)
	rows := docRows(t)

	documented := map[string]bool{}
	doc := pairs{}
	for _, row := range rows {
		for _, c := range row.codes {
			documented[c] = true
			if n, err := strconv.Atoi(row.exit); err == nil {
				doc.add(c, n)
			}
		}
	}
	for c := range inSources {
		if strings.HasSuffix(c, "_") {
			// A prefix: some documented code must complete it.
			if !slices.ContainsFunc(slices.Collect(mapsKeys(documented)), func(d string) bool { return strings.HasPrefix(d, c) }) {
				t.Errorf("codes %s… are not in docs/exit-codes.md", c)
			}
			continue
		}
		if !documented[c] {
			t.Errorf("%s is in the sources but not in docs/exit-codes.md", c)
		}
	}
	for c := range documented {
		if !inSources[c] && !slices.ContainsFunc(slices.Collect(mapsKeys(inSources)), func(s string) bool {
			return strings.HasSuffix(s, "_") && strings.HasPrefix(c, s)
		}) {
			t.Errorf("docs/exit-codes.md lists %s, which no source holds", c)
		}
	}

	got, servedList := programExits(t, files)
	// The Worker's answers, through the mapping a client applies to them
	// (the status and message of each row, as TestExitCodeTable sends them).
	for _, row := range rows {
		if row.section != "Errors the Worker answers" || len(row.codes) == 0 {
			continue
		}
		status, _ := strconv.Atoi(row.cells[1])
		code, msg := parseCodeCell(row.cells[0])
		if code == "" {
			// An answer without a code: the code and exit the command
			// reports it with.
			e := cliError(sandboxcli.Error(&sc.RemoteError{Op: "ready", Status: status, Message: msg}))
			got.add(familyOf(e.Code), e.Exit)
			continue
		}
		got.add(code, sandboxcli.RemoteExit(status, code, msg))
	}
	served := map[string]map[int]bool{}
	for _, sv := range servedList {
		if served[sv.code] == nil {
			served[sv.code] = map[int]bool{}
		}
		served[sv.code][sv.status] = true
	}
	localRows := map[string]bool{}
	for _, row := range rows {
		switch row.section {
		case "Codes the local servers answer":
			// The HTTP status nimbus dev answers, and the exit a client
			// gives it through RemoteExit.
			status, _ := strconv.Atoi(row.cells[1])
			for _, c := range row.codes {
				localRows[c] = true
				if !served[c][status] {
					t.Errorf("%s: the table says HTTP %d; the servers answer it with %v", c, status, sortedKeys(served[c]))
				}
				if exit := sandboxcli.RemoteExit(status, c, ""); strconv.Itoa(exit) != row.exit {
					t.Errorf("%s (HTTP %d): a client exits %d, the table says %s", c, status, exit, row.exit)
				}
			}
		case "Codes that never set the exit status":
			for _, c := range row.codes {
				if len(got[c]) != 0 || len(doc[c]) != 0 {
					t.Errorf("%s is listed as never setting the exit status, but exits %v", c, sortedKeys(got[c]))
				}
			}
		case "Warnings":
			for _, c := range row.codes {
				if !strings.HasPrefix(c, "W_") || len(got[c]) != 0 {
					t.Errorf("%s is listed as a warning, but is not one (exits %v)", c, sortedKeys(got[c]))
				}
			}
		}
	}
	workerCodes := map[string]bool{}
	for _, row := range rows {
		if row.section == "Errors the Worker answers" {
			for _, c := range row.codes {
				workerCodes[c] = true
			}
		}
	}
	for c := range served {
		if !workerCodes[c] && !localRows[c] {
			t.Errorf("nimbus dev answers %s, which neither the Worker table nor the local servers table lists", c)
		}
	}
	for c := range inSources {
		if strings.HasPrefix(c, "W_") && !slices.ContainsFunc(rows, func(r docRow) bool { return r.section == "Warnings" && slices.Contains(r.codes, c) }) {
			t.Errorf("warning %s is not in the Warnings table", c)
		}
	}

	for _, code := range sortedKeys(got) {
		for _, exit := range sortedKeys(got[code]) {
			if !doc[code][exit] {
				t.Errorf("%s exits %d somewhere, but docs/exit-codes.md has no row %s with exit %d", code, exit, code, exit)
			}
		}
	}
	for _, code := range sortedKeys(doc) {
		for _, exit := range sortedKeys(doc[code]) {
			if !got[code][exit] && !checkedEndToEnd[code+"/"+strconv.Itoa(exit)] {
				t.Errorf("docs/exit-codes.md: %s with exit %d, which the program never gives it", code, exit)
			}
		}
	}
}

// checkedEndToEnd are rows whose code and exit the sources do not give as
// constants together, run end to end by the tests named.
var checkedEndToEnd = map[string]bool{
	"E_INTERRUPTED/143": true, // 128+SIGTERM: TestSignalsEndLongCommandsGracefully
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func sortedKeys[K string | int, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

var errDeadline = context.DeadlineExceeded

func readDoc(page string) (string, error) {
	data, err := os.ReadFile("../docs/" + page)
	return string(data), err
}

// TestTokenVerifyUnreadableStdinExits74 runs `token verify -` with a
// standard input that cannot be read (a directory): E_IO exits 74, an
// I/O error, as the table says; it exited 66, a code the table did not
// have.
func TestTokenVerifyUnreadableStdinExits74(t *testing.T) {
	bin, err := exec.LookPath("nimbus")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stdin, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	cmd := exec.Command(bin, "--json", "token", "verify", "-")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"),
		"JWT_SECRET=exit-table-secret-0123456789abcdef0123"}
	cmd.Stdin = stdin
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitcode.IOErr || !strings.Contains(stderr.String(), `"code":"E_IO"`) {
		t.Errorf("token verify - with a directory on stdin: %v, want exit %d with E_IO\n%s", err, exitcode.IOErr, stderr.String())
	}
}
