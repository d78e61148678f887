package cmd_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/cmd"
	"github.com/nimbus-sh/nimbus/cmd/internal/sandboxcli"
	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/cmdutil"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
)

// TestHintsOnADashIDParse: a sandbox id may start with '-', and every
// form of hint that names a command on the sandbox, pasted, must reach
// that sandbox. Each command line of the hints is parsed with the
// command's own flag parser: the id must be its first argument (not
// flags: "-q7" read as -q -7), no flag of the hint may come after it as
// an argument, and a mint command's --sid must be the id.
func TestHintsOnADashIDParse(t *testing.T) {
	const id = "-q7"
	h := sandboxcli.Hints{ID: id, Tenant: "acme"}
	hints := map[string]string{
		"OnSandbox":          h.OnSandbox(func(arg string) string { return "check it with nimbus sandbox ps " + arg }),
		"NoProcessHint":      h.NoProcessHint(),
		"RuntimeInstallHint": h.RuntimeInstallHint(),
		"ReadNotFoundHint":   h.ReadNotFoundHint("/home/user/x"),
	}
	ios, _, _, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	w, finish := sandboxcli.TerminalOutput(ios, h, "/home/user/x.bin")
	_, _ = w.Write([]byte{0, 1, 2})
	var ce *clierr.Error
	if !errors.As(finish(nil), &ce) {
		t.Fatal("TerminalOutput let binary bytes through")
	}
	hints["TerminalOutput"] = ce.Hint
	errs := map[string]error{
		"not found (remote dir)": &transfer.Error{Code: transfer.CodeNotFound, Message: "m", Dir: "/home/user/d", Remote: true},
		"not found":              &transfer.Error{Code: transfer.CodeNotFound, Message: "m"},
		"no parent":              &transfer.Error{Code: transfer.CodeNoParent, Message: "m", Dir: "/home/user/d", Remote: true},
		"runtime":                &job.RuntimeError{Spec: "python@9", ExitCode: 1},
		"ENOENT open":            &sc.RemoteError{Status: 500, Code: sc.CodeRemoteRPC, Message: "ENOENT: no such file or directory, open '/x'"},
		"ENOENT chdir":           &sc.RemoteError{Status: 500, Code: sc.CodeRemoteRPC, Message: "ENOENT: no such file or directory, chdir '/home/user/app'"},
		"ESRCH":                  &sc.RemoteError{Status: 500, Code: sc.CodeRemoteRPC, Message: "ESRCH: no such process"},
		"no such process":        &sc.RemoteError{Status: 500, Code: sc.CodeRemoteRPC, Message: "no such process: 42"},
		"scope":                  &sc.RemoteError{Status: 403, Code: "E_SCOPE_MISSING", Message: "Missing required scope: sandbox:use"},
		"pin":                    &sc.RemoteError{Status: 403, Code: "E_SESSION_PIN_MISMATCH", Message: "pinned"},
		"busy":                   &terminal.Error{Code: terminal.CodeBusy, Message: "m"},
		"taken over":             &terminal.Error{Code: terminal.CodeTakenOver, Message: "m"},
		"closed early":           &terminal.Error{Code: terminal.CodeClosedEarly, Message: "m"},
		"attach scope":           &terminal.Error{Code: "E_SCOPE_MISSING", Status: 403, Message: "m"},
	}
	for name, err := range errs {
		for kind, mapped := range map[string]error{"Error": h.Error(err), "ExecError": h.ExecError(err), "AttachError": sandboxcli.AttachError(err, h)} {
			if errors.As(mapped, &ce) && ce.Hint != "" {
				hints[kind+" "+name] = ce.Hint
			}
		}
	}
	checked := 0
	for name, hint := range hints {
		for rest := hint; ; {
			i := strings.Index(rest, "nimbus ")
			if i < 0 {
				break
			}
			rest = rest[i+len("nimbus "):]
			line := rest
			if end := strings.IndexAny(line, ");,("); end >= 0 {
				line = line[:end]
			}
			words := strings.Fields(line)
			if !slices.Contains(words, id) {
				continue
			}
			checked++
			if p := dashIDProblem(words, id); p != "" {
				t.Errorf("%s: nimbus %s: %s\n%s", name, line, p, hint)
			}
		}
	}
	if checked < 15 {
		t.Errorf("only %d command lines on the sandbox checked: the hints were not found", checked)
	}
}

// dashIDProblem parses args, a nimbus command line on sandbox id, and
// says what is wrong with it, or "".
func dashIDProblem(args []string, id string) string {
	root := cmd.NewRootCmd(cmdutil.New())
	c, rest, err := root.Find(args)
	if err != nil {
		return err.Error()
	}
	if err := c.ParseFlags(rest); err != nil {
		return err.Error()
	}
	if c.Name() == "mint" {
		if sid, _ := c.Flags().GetString("sid"); sid != id {
			return "--sid is " + sid
		}
		return ""
	}
	pos := c.Flags().Args()
	if len(pos) == 0 || pos[0] != id {
		return "the id is not the first argument: " + strings.Join(pos, " ")
	}
	for i, a := range pos[1:] {
		if a == "--" && i == 0 && (c.Name() == "exec" || c.Name() == "start") {
			continue // ID -- COMMAND
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			return "a flag after the id is an argument: " + a
		}
	}
	return ""
}
