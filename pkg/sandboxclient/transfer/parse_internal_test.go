package transfer

import (
	"strings"
	"testing"

	"github.com/nimbus-sh/nimbus/pkg/ignore"
)

func findRecord(fields ...string) string { return strings.Join(fields, "\x00") + "\x00" }

func TestParseFind(t *testing.T) {
	out := findRecord("d", "4096", "1700000000.1239999990", "755", "dir", "") +
		findRecord("f", "12", "1700000001.5", "644", "dir/a b\nc", "") +
		findRecord("l", "6", "1700000002", "777", "link", "../etc") +
		findRecord("p", "0", "1700000003.0000000000", "644", "fifo", "") +
		listEnd + "\x00"
	es, ok := parseFind(out)
	if !ok || len(es) != 4 {
		t.Fatalf("%v %+v", ok, es)
	}
	if es[0].Type != TypeDir || es[0].Size != 0 || es[0].MtimeMs != 1700000000123 || es[0].Mode != 0o755 {
		t.Fatalf("%+v", es[0])
	}
	if es[1].Rel != "dir/a b\nc" || es[1].Size != 12 || es[1].MtimeMs != 1700000001500 {
		t.Fatalf("%+v", es[1])
	}
	if es[2].Type != TypeSymlink || es[2].Link != "../etc" || es[2].MtimeMs != 1700000002000 {
		t.Fatalf("%+v", es[2])
	}
	if es[3].Type != TypeOther {
		t.Fatalf("%+v", es[3])
	}
	for name, bad := range map[string]string{
		"no end marker":   findRecord("f", "1", "1", "644", "x", ""),
		"cut short":       findRecord("f", "1", "1", "644", "x", "") + listEnd,
		"odd field count": findRecord("f", "1", "1", "644", "x") + listEnd + "\x00",
		"unknown type":    findRecord("?", "1", "1", "644", "x", "") + listEnd + "\x00",
		"bad size":        findRecord("f", "-1", "1", "644", "x", "") + listEnd + "\x00",
		"bad mode":        findRecord("f", "1", "1", "9", "x", "") + listEnd + "\x00",
		"bad time":        findRecord("f", "1", "soon", "644", "x", "") + listEnd + "\x00",
		"usage text":      "find: unknown predicate `-printf'\n",
	} {
		if _, ok := parseFind(bad); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSafeRel(t *testing.T) {
	for rel, want := range map[string]bool{
		"a": true, "a/b c/d": true, ".hidden": true, "a..b": true,
		"": false, "/etc": false, "..": false, "a/../b": false, "a//b": false, "./a": false, "a/": false, "a\\b": false, "a\x00b": false,
	} {
		if got := safeRel(rel); got != want {
			t.Errorf("safeRel(%q) = %v", rel, got)
		}
	}
}

// The names a download may not create on Windows, checked on any system:
// the rule is a function of the OS.
func TestLocalNameProblemByGOOS(t *testing.T) {
	for _, c := range []struct {
		rel     string
		windows string // a word of the problem on Windows; "" means fine
	}{
		{"report.txt", ""},
		{"dir/sub/a.b.c", ""},
		{"CONSOLE", ""}, {"con-fig", ""}, {"COM0", ""}, {"LPT10", ""}, {"nul_", ""}, {"aux.d/x", "device"},
		{"CON", "device"}, {"con", "device"}, {"Prn.txt", "device"}, {"AUX", "device"}, {"nul.tar.gz", "device"},
		{"COM1", "device"}, {"com9.log", "device"}, {"LPT1", "device"}, {"lpt9.txt", "device"}, {"COM\u00b9", "device"},
		{"CONIN$", "device"}, {"conout$.x", "device"}, {"NUL .txt", "device"},
		{"out/NUL", "device"}, {"CON/inner.txt", "device"},
		{"a.", "dot or a space"}, {"a ", "dot or a space"}, {"dir./x", "dot or a space"},
		{"a:b", "alternate data stream"}, {"file.txt:stream", "alternate data stream"}, {"d/x:$DATA", "alternate data stream"},
		{"a\\b", "does not allow"}, {"a<b", "does not allow"}, {"a|b", "does not allow"}, {"what?", "does not allow"},
		{"*", "does not allow"}, {"q\"", "does not allow"}, {"tab\there", "does not allow"},
	} {
		for _, goos := range []string{"linux", "darwin", "freebsd", "windows"} {
			got := localNameProblem(goos, c.rel)
			want := ""
			if goos == "windows" {
				want = c.windows
			}
			if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
				t.Errorf("localNameProblem(%q, %q) = %q, want a problem with %q", goos, c.rel, got, want)
			}
		}
	}
	// The problem is placed at the first name that has it, where the
	// entries under it are reported once.
	if at, _ := localNameAt("windows", "out/CON/deep/x.txt"); at != "out/CON" {
		t.Errorf("at %q", at)
	}
}

// The symlink targets a download may not create on Windows, checked on any
// system: each name of the target as an entry's name is.
func TestLinkTargetProblemByGOOS(t *testing.T) {
	for _, c := range []struct {
		target  string
		windows string // a word of the problem on Windows; "" means fine
	}{
		{"report.txt", ""}, {"../lib/x.so", ""}, {"./a", ""}, {"/usr/bin/python3", ""}, {"..", ""}, {"dir/", ""},
		{"CON", "device"}, {"../nul.txt", "device"}, {"out/COM1/x", "device"},
		{"a:b", "alternate data stream"}, {"C:/Windows", "alternate data stream"},
		{"..\\..\\x", "does not allow"}, {"\\\\host\\share", "does not allow"},
		{"trail.", "dot or a space"}, {"dir /x", "dot or a space"},
	} {
		for _, goos := range []string{"linux", "darwin", "windows"} {
			got := linkTargetProblem(goos, c.target)
			want := ""
			if goos == "windows" {
				want = c.windows
			}
			if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
				t.Errorf("linkTargetProblem(%q, %q) = %q, want a problem with %q", goos, c.target, got, want)
			}
		}
	}
}

func TestSortTreeParentsFirst(t *testing.T) {
	es := []Entry{{Rel: "a/b"}, {Rel: "a-b"}, {Rel: "a"}, {Rel: "a/b/c"}, {Rel: "a.txt"}, {Rel: "b"}}
	sortTree(es)
	var got []string
	for _, e := range es {
		got = append(got, e.Rel)
	}
	// "a-b" and "a.txt" sort before "a/…" bytewise, but a's children must
	// follow a directly.
	if strings.Join(got, ",") != "a,a/b,a/b/c,a-b,a.txt,b" {
		t.Fatal(got)
	}
}

func TestFilterTreeDropsExcludedSubtrees(t *testing.T) {
	es := []Entry{
		{Rel: "keep.txt", Type: TypeFile},
		{Rel: "node_modules", Type: TypeDir},
		{Rel: "node_modules/x", Type: TypeDir},
		{Rel: "node_modules/x/i.js", Type: TypeFile},
		{Rel: "node_modules-notes.txt", Type: TypeFile},
		{Rel: "sub", Type: TypeDir},
		{Rel: "sub/.gitignore", Type: TypeFile},
		{Rel: "sub/a.log", Type: TypeFile},
		{Rel: "sub/b.txt", Type: TypeFile},
	}
	read := func(rel string) ([]byte, bool, error) {
		switch rel {
		case ".gitignore":
			return []byte("node_modules/\n"), true, nil
		case "sub/.gitignore":
			return []byte("*.log\n"), true, nil
		}
		return nil, false, nil
	}
	tr, err := filterTree(es, ignore.Options{}, read, func(Failure) { t.Fatal("failure") }, "/r")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tr.entries {
		got = append(got, e.Rel)
	}
	if strings.Join(got, ",") != "keep.txt,node_modules-notes.txt,sub,sub/.gitignore,sub/b.txt" || tr.excluded != 2 {
		t.Fatalf("%v excluded=%d", got, tr.excluded)
	}
}

func TestDigestOf(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for line, want := range map[string]string{
		h + "  ./x":                h,
		"\\" + h + "  ./a\\nb":     h,
		"-":                        "",
		h[:63]:                     "",
		h + "x":                    "",
		strings.ToUpper(h) + "  x": "",
	} {
		if got := digestOf(line); got != want {
			t.Errorf("digestOf(%q) = %q", line, got)
		}
	}
}

func TestBatchesStayUnderTheScriptLimit(t *testing.T) {
	lines := make([]string, 5000)
	for i := range lines {
		lines[i] = strings.Repeat("x", 100)
	}
	bs := batches(lines)
	n := 0
	for _, b := range bs {
		if size := len(strings.Join(b, "\n")); size > maxScript {
			t.Fatalf("batch of %d bytes", size)
		}
		n += len(b)
	}
	if n != len(lines) || len(bs) < 2 {
		t.Fatalf("%d lines in %d batches", n, len(bs))
	}
}

// FuzzParseFind: whatever a sandbox prints, the listing parser never
// panics and never yields an entry the download would write outside the
// tree (remoteTree drops unsafe paths; here every accepted type is known).
func FuzzParseFind(f *testing.F) {
	f.Add(findRecord("f", "1", "1700000000.5", "644", "a/b", "") + listEnd + "\x00")
	f.Add(findRecord("l", "0", "-1.5", "777", "../x", "/etc") + listEnd + "\x00")
	f.Add("\x00\x00\x00\x00\x00\x00" + listEnd + "\x00")
	f.Fuzz(func(t *testing.T, out string) {
		es, ok := parseFind(out)
		if !ok {
			return
		}
		for _, e := range es {
			switch e.Type {
			case TypeFile, TypeDir, TypeSymlink, TypeOther:
			default:
				t.Fatalf("type %q", e.Type)
			}
			if e.Size < 0 || e.Mode&^0o777 != 0 {
				t.Fatalf("%+v", e)
			}
		}
	})
}

func TestParseSumLine(t *testing.T) {
	h := strings.Repeat("0f", 32)
	for line, want := range map[string][2]string{
		h + "  ./a b.txt":           {h, "./a b.txt"},
		h + " *./bin":               {h, "./bin"},
		"\\" + h + "  ./a\\nb\\\\c": {h, "./a\nb\\c"},
		h + "  ":                    {h, ""},
	} {
		sum, name, ok := parseSumLine(line)
		if !ok || sum != want[0] || name != want[1] {
			t.Errorf("parseSumLine(%q) = %q %q %v", line, sum, name, ok)
		}
	}
	for _, bad := range []string{"", "-", h, h + "x ./a", "sha256sum: ./x: No such file or directory"} {
		if _, _, ok := parseSumLine(bad); ok {
			t.Errorf("parseSumLine(%q) accepted", bad)
		}
	}
}
