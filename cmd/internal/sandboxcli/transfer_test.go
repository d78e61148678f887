package sandboxcli

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/iostreams"
	sc "github.com/nimbus-sh/nimbus/pkg/sandboxclient"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/job"
	"github.com/nimbus-sh/nimbus/pkg/sandboxclient/transfer"
)

// TestEnvFileError: an env file job.ParseEnvFile refuses is a usage error
// naming the flag, the file and the line, with the syntax as its hint
// when a line is at fault.
func TestEnvFileError(t *testing.T) {
	_, err := job.ParseEnvFile("ci.env", []byte("A=1\nsk_live_SECRET\n"))
	err = EnvFileError(err)
	code, _ := exitOf(t, err)
	var ce *clierr.Error
	if !errors.As(err, &ce) || code != 64 || ce.Code != clierr.CodeUsage ||
		!strings.HasPrefix(ce.Message, "--env-file ci.env:2: ") || !strings.Contains(ce.Hint, "KEY=VALUE") || strings.Contains(ce.Message, "SECRET") {
		t.Fatalf("exit %d, %#v", code, err)
	}
	_, err = job.ParseEnvFile("big.env", []byte(strings.Repeat("A=1\n", job.MaxEnvFile/4+1)))
	err = EnvFileError(err)
	if !errors.As(err, &ce) || ce.Message != "--env-file big.env: larger than 1 MiB" || ce.Hint != "" {
		t.Fatalf("%#v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "20MiB": 20 << 20, "4M": 4 << 20, "64k": 64 << 10, "1G": 1 << 30, "2MB": 2000000, " 3 KiB ": 3 << 10, "10b": 10} {
		got, err := ParseSize("--write-limit", in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5M", "12 parsecs", "M", "99999999999999999999", "9999999999G"} {
		if _, err := ParseSize("--write-limit", in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor pokes the bar until buf holds want (redraws are throttled to
// one per 100ms).
func waitFor(t *testing.T, p *Progress, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(buf.String(), want) {
		p.Transferred(0)
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", want, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProgressOnATerminal(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	buf := &syncBuffer{}
	ios.ErrOut = buf
	ios.SetStderrTTY(true)
	ios.SetColorDisabled(true)
	p := NewProgress(ios, "↑", false, false)
	p.Plan(4, 4<<20)
	p.Transferred(1 << 20)
	p.Event(transfer.Event{Kind: transfer.Copied, Type: transfer.TypeFile})
	// Files, bytes, rate and [elapsed:time left].
	waitFor(t, p, buf, "↑ 1/4 files   25% ██████░░░░░░░░░░░░░░░░░░ (1.0/4.0 MiB, ")
	if out := buf.String(); !regexp.MustCompile(`\(1\.0/4\.0 MiB, [0-9.]+ [KMG]?i?B/s\) \[\d+s:\d+s\]`).MatchString(out) {
		t.Fatalf("bar %q", out)
	}
	// Failures and skips are printed above the bar as they are found.
	p.Failed(transfer.Failure{Path: "/x/a.txt", Message: "/x/a.txt: permission denied"})
	p.Event(transfer.Event{Kind: transfer.Skipped, Upload: true, Local: "/x/fifo", Reason: "not a regular file"})
	p.Event(transfer.Event{Kind: transfer.Skipped, Upload: true, Local: "/x/same", Reason: "unchanged"})
	p.Close()
	out := buf.String()
	if !strings.Contains(out, "✗ /x/a.txt: permission denied\n") || !strings.Contains(out, "! skipped /x/fifo: not a regular file\n") || strings.Contains(out, "/x/same") {
		t.Fatalf("lines %q", out)
	}
	// Whatever follows the last erase is whole lines: no bar is left.
	if rest := out[strings.LastIndex(out, "\x1b[2K\r")+5:]; rest != "" && !strings.HasSuffix(rest, "\n") {
		t.Fatalf("bar left at the end: %q", rest)
	}
}

func TestProgressElsewhereDrawsNoBar(t *testing.T) {
	for name, mk := range map[string]func(*iostreams.IOStreams) *Progress{
		"not a terminal": func(ios *iostreams.IOStreams) *Progress { return NewProgress(ios, "↑", false, false) },
		"quiet": func(ios *iostreams.IOStreams) *Progress {
			ios.SetStderrTTY(true)
			ios.SetColorDisabled(true)
			return NewProgress(ios, "↑", true, false)
		},
	} {
		ios, _, _, errOut := iostreams.Test()
		p := mk(ios)
		p.Plan(1, 10)
		p.Transferred(10)
		p.Failed(transfer.Failure{Path: "a", Message: "a: broken"})
		p.Close()
		if got := errOut.String(); got != "✗ a: broken\n" {
			t.Errorf("%s: %q", name, got)
		}
	}
	// --json: not even failure lines (they are in the JSON).
	ios, _, _, errOut := iostreams.Test()
	p := NewProgress(ios, "↑", false, true)
	p.Failed(transfer.Failure{Path: "a", Message: "a: broken"})
	p.Close()
	if errOut.Len() != 0 {
		t.Errorf("json: %q", errOut.String())
	}
}

func TestTransferErrorsMapToExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		exit int
		code string
	}{
		{&transfer.PartialError{Failures: []transfer.Failure{{Path: "a", Message: "a: x"}}}, 74, transfer.CodePartial},
		{&transfer.Error{Code: transfer.CodeVerify, Message: "m"}, 74, transfer.CodeVerify},
		{&transfer.Error{Code: transfer.CodeJoin, Message: "m"}, 74, transfer.CodeJoin},
		{&transfer.Error{Code: transfer.CodeChanged, Message: "m"}, 74, transfer.CodeChanged},
		{&transfer.Error{Code: transfer.CodeIsDirectory, Message: "m"}, 64, transfer.CodeIsDirectory},
		{&transfer.Error{Code: transfer.CodeNoName, Message: "m"}, 64, transfer.CodeNoName},
		{&transfer.Error{Code: transfer.CodeIgnoreFile, Message: "m"}, 65, transfer.CodeIgnoreFile},
	}
	for _, c := range cases {
		exit, code := exitOf(t, Error(c.err))
		if exit != c.exit || code != c.code {
			t.Errorf("%v: exit %d code %s", c.err, exit, code)
		}
	}
	if err := Error(errors.New("x")); err == nil {
		t.Fatal("nil")
	}
}

// File names come from the sandbox: one holding an escape sequence or a
// newline is quoted wherever it is printed, never sent raw.
func TestHostileNamesAreQuoted(t *testing.T) {
	name := "/home/user/a\x1b]0;owned\x07\x1b[31mred\nfake line.txt"
	quoted := `"/home/user/a\x1b]0;owned\a\x1b[31mred\nfake line.txt"`
	if got := clierr.Printable(name); got != quoted {
		t.Fatalf("clierr.Printable = %s", got)
	}
	if got := clierr.Printable("/home/user/plain é.txt"); got != "/home/user/plain é.txt" {
		t.Fatalf("plain name changed: %s", got)
	}
	f := transfer.Failure{Path: name, Code: "E_NIMBUS_REMOTE_RPC", Message: "EACCES: permission denied, open '" + name + "'"}
	ios, _, _, errOut := iostreams.Test()
	p := NewProgress(ios, "↓", false, false)
	p.Failed(f)
	p.Event(transfer.Event{Kind: transfer.Skipped, Remote: name, Reason: "not a regular file"})
	p.Close()
	out := errOut.String() + FailureList(ios.Styles(), []transfer.Failure{f})
	mapped := Error(&transfer.PartialError{Failures: []transfer.Failure{f}})
	var ce *clierr.Error
	if !errors.As(mapped, &ce) {
		t.Fatalf("mapped %T", mapped)
	}
	out += ce.Message
	if strings.ContainsAny(out, "\x1b\x07") || strings.Contains(out, "\nfake line") {
		t.Fatalf("raw name printed: %q", out)
	}
	if !strings.Contains(out, "✗ EACCES: permission denied, open '"+quoted+"'\n") || !strings.Contains(out, "! skipped "+quoted+": not a regular file\n") ||
		!strings.Contains(ce.Message, quoted) {
		t.Fatalf("lines %q", out)
	}
}

// A server's 413 gets the hint to lower --write-limit, also as one path
// of a tree copy.
func TestTooLargeGetsTheWriteLimitHint(t *testing.T) {
	re := &sc.RemoteError{Op: "writeFile", Code: "E_BAD_JSON", Status: 413, Message: "Invalid JSON body: larger than 32 MiB"}
	for name, err := range map[string]error{
		"one file": re,
		"gateway":  &sc.Error{Code: sc.CodeGateway, Status: 413, Message: "HTTP 413 text/html"},
		"tree":     &transfer.PartialError{Failures: []transfer.Failure{{Path: "/a", Code: "E_BAD_JSON", Message: re.Message, Err: re}}},
	} {
		var ce *clierr.Error
		if !errors.As(Error(err), &ce) || !strings.Contains(ce.Hint, "lower --write-limit") {
			t.Errorf("%s: %+v", name, ce)
		}
	}
}

func TestSyncSummarySaysDeletionsWereSkipped(t *testing.T) {
	s := &transfer.SyncSummary{Copied: 1, Bytes: 7, Failures: []transfer.Failure{{Path: "/x/data"}}, DeletionsSkipped: true}
	if got := SyncSummary(s); got != "1 copied (7 B), 0 unchanged, 0 deleted, 1 failed; IO error: skipping deletion (some paths could not be listed; fix them and sync again to delete)" {
		t.Fatalf("%q", got)
	}
}

// `sync --watch` keeps one display over its rounds and meets the same
// socket or fifo in every round: it is reported once, for people and in
// JSON, while another entry, or the same one for another reason, is still
// reported.
func TestSkippedEntryReportedOnce(t *testing.T) {
	for _, silent := range []bool{false, true} {
		ios, _, _, errOut := iostreams.Test()
		p := NewProgress(ios, "↑", true, silent)
		for round := 0; round < 3; round++ {
			p.Event(transfer.Event{Kind: transfer.Skipped, Upload: true, Local: "src/app.sock", Reason: "not a regular file"})
		}
		p.Event(transfer.Event{Kind: transfer.Skipped, Upload: true, Local: "src/fifo", Reason: "not a regular file"})
		p.Event(transfer.Event{Kind: transfer.Skipped, Upload: true, Local: "src/app.sock", Reason: "unreadable"})
		p.Close()
		if n := strings.Count(errOut.String(), "app.sock: not a regular file"); n != 1 {
			t.Errorf("json %v: the same entry reported %d times: %q", silent, n, errOut.String())
		}
		if !strings.Contains(errOut.String(), "src/fifo: not a regular file") || !strings.Contains(errOut.String(), "app.sock: unreadable") {
			t.Errorf("json %v: other entries lost: %q", silent, errOut.String())
		}
		if silent && strings.Count(errOut.String(), CodeTransferSkipped) != 3 {
			t.Errorf("json: %q", errOut.String())
		}
	}
}

// TestRootError: --root of the sandbox commands and mcp, typed on Windows
// (its rules applied here on any system), is checked as a cp target is.
// Git Bash makes "C:/Program Files/Git/home/user" of /home/user, and
// "/home/user\app" passed the old check (a leading '/') and reached the
// sandbox with a '\' in a name.
func TestRootError(t *testing.T) {
	for _, c := range []struct {
		goos, root string
		refused    bool
		hint       string
	}{
		{"windows", "/home/user", false, ""},
		{"windows", "/home/user/app", false, ""},
		{"windows", `/home/user\app`, true, "MSYS_NO_PATHCONV=1"},
		{"windows", "C:/Program Files/Git/home/user", true, "MSYS_NO_PATHCONV=1"},
		{"windows", `C:\work`, true, "MSYS_NO_PATHCONV=1"},
		{"windows", "app", true, "absolute"},
		{"linux", `/home/user\app`, false, ""},
		{"linux", "C:/Program Files/Git/home/user", true, "absolute"},
		{"linux", "", true, "absolute"},
	} {
		err := RootError(c.goos, c.root, "give an absolute path")
		if !c.refused {
			if err != nil {
				t.Errorf("%s --root %q: %v", c.goos, c.root, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s --root %q accepted", c.goos, c.root)
			continue
		}
		var ce *clierr.Error
		if !errors.As(err, &ce) || ce.Exit != 64 || !strings.Contains(ce.Message+" "+ce.Hint, c.hint) {
			t.Errorf("%s --root %q: %#v, want exit 64 mentioning %q", c.goos, c.root, err, c.hint)
		}
	}
}
