package localsandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox"
	"github.com/nimbus-sh/nimbus/pkg/token"
)

// TestWriteReusesReplacedFiles: a write over an existing file takes the
// file an earlier write replaced instead of a new inode, and only when
// nothing can see it: a file someone holds open, one with another link,
// one with extended attributes and one above the size bound are never
// written again. The content and mode of every target come out exact, a
// file shrinks as well as grows, and the private directory goes with the
// server.
func TestWriteReusesReplacedFiles(t *testing.T) {
	s, hs := newServer(t)
	tok := mint(t, "sp", token.ScopeSandboxUse)
	home := filepath.Join(s.SandboxDir("acme:alice:sp"), "home", "user")
	write := func(name string, data []byte) {
		t.Helper()
		if e := call(t, hs.URL, tok, "sp", "writeFile", "/home/user/"+name, wireBytes(data)); !e.OK {
			t.Fatalf("write %s: %s", name, e.Error)
		}
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(home, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ino := func(name string) uint64 {
		t.Helper()
		var st unix.Stat_t
		if !filepath.IsAbs(name) {
			name = filepath.Join(home, name)
		}
		if err := unix.Stat(name, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	spareDir := func() string {
		t.Helper()
		ents, err := os.ReadDir(filepath.Join(s.DataDir(), "spare"))
		if err != nil || len(ents) != 1 {
			t.Fatalf("spare directory: %v %v", ents, err)
		}
		return filepath.Join(s.DataDir(), "spare", ents[0].Name())
	}

	// Reused: b's new content lands in the inode a's first content had,
	// shorter than it was.
	write("a", bytes.Repeat([]byte("A"), 1000))
	write("b", []byte("b1"))
	if err := os.Chmod(filepath.Join(home, "b"), 0o751); err != nil {
		t.Fatal(err)
	}
	a1, b1 := ino("a"), ino("b")
	write("a", []byte("a2"))
	write("b", []byte("b2"))
	if got := ino("b"); got != a1 {
		t.Fatalf("b is inode %d, want the replaced %d: the replaced file was not reused", got, a1)
	}
	// and b's old file is the one kept now.
	kept, err := os.ReadDir(spareDir())
	if err != nil || len(kept) != 1 {
		t.Fatalf("kept files: %v %v", kept, err)
	}
	if got := ino(filepath.Join(spareDir(), kept[0].Name())); got != b1 {
		t.Fatalf("kept inode %d, want b's old %d", got, b1)
	}
	if read("a") != "a2" || read("b") != "b2" {
		t.Fatalf("a %q b %q", read("a"), read("b"))
	}
	if fi, _ := os.Stat(filepath.Join(home, "b")); fi.Mode().Perm() != 0o751 {
		t.Fatalf("b's mode %v, want 0751", fi.Mode())
	}

	// Held open: the holder keeps the old content.
	write("o", []byte("o1"))
	held, err := os.Open(filepath.Join(home, "o"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	write("o", []byte("o2"))
	write("b", []byte("b3"))
	write("a", []byte("a3"))
	if got, _ := readAt(held); got != "o1" || read("b") != "b3" || read("a") != "a3" {
		t.Fatalf("held %q b %q a %q", got, read("b"), read("a"))
	}

	// Another link: it keeps the old content.
	write("h", []byte("h1"))
	if err := os.Link(filepath.Join(home, "h"), filepath.Join(home, "hl")); err != nil {
		t.Fatal(err)
	}
	write("h", []byte("h2"))
	write("b", []byte("b4"))
	write("a", []byte("a4"))
	if read("hl") != "h1" || read("h") != "h2" || read("b") != "b4" || read("a") != "a4" {
		t.Fatalf("hl %q h %q b %q a %q", read("hl"), read("h"), read("b"), read("a"))
	}

	// Extended attributes do not travel to another file.
	write("x", []byte("x1"))
	if err := unix.Setxattr(filepath.Join(home, "x"), "user.k", []byte("v"), 0); err != nil {
		t.Fatalf("this test needs user extended attributes in %s: %v", home, err)
	}
	write("x", []byte("x2"))
	write("b", []byte("b5"))
	write("a", []byte("a5"))
	for _, name := range []string{"a", "b"} {
		if n, err := unix.Listxattr(filepath.Join(home, name), nil); n != 0 || err != nil {
			t.Fatalf("%s has %d bytes of attribute names (%v)", name, n, err)
		}
	}

	// A big replaced file is not kept.
	big := bytes.Repeat([]byte("Z"), 2<<20)
	write("z", big)
	write("z", big[:len(big)-1])
	ents, err := os.ReadDir(spareDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if fi, err := e.Info(); err != nil || fi.Size() > 1<<20 {
			t.Fatalf("kept %s: %v %v", e.Name(), fi.Size(), err)
		}
	}
	if got := read("z"); got != string(big[:len(big)-1]) {
		t.Fatalf("z: %d bytes", len(got))
	}

	// Nothing of this shows in the sandbox, and it goes with the server.
	if out := sh(t, hs.URL, tok, "sp", "ls -A"); out != "a\nb\nh\nhl\no\nx\nz\n" {
		t.Fatalf("ls: %q", out)
	}
	dir := spareDir()
	hs.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s after Close: %v", dir, err)
	}
}

// TestSpareDirectoriesOfGoneServers: a server removes the spare
// directories of servers that are gone and leaves those of servers that
// still run on the same data directory (they hold a lock on theirs).
func TestSpareDirectoriesOfGoneServers(t *testing.T) {
	data := t.TempDir()
	gone := filepath.Join(data, "spare", "gone")
	live := filepath.Join(data, "spare", "live")
	for _, d := range []string{gone, live} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "0"), []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	s, _ := newServer(t, func(o *localsandbox.Options) { o.DataDir = data })
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("a gone server's directory stayed: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(live, "0")); err != nil || string(b) != "old" {
		t.Errorf("a live server's kept file: %q %v", b, err)
	}
	ents, _ := os.ReadDir(filepath.Join(data, "spare"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 || !strings.Contains(strings.Join(names, " "), "live") {
		t.Errorf("spare directories: %v", names)
	}
	_ = s
}

// readAt reads f from its start.
func readAt(f *os.File) (string, error) {
	b := make([]byte, 64)
	n, err := f.ReadAt(b, 0)
	if n > 0 {
		err = nil
	}
	return string(b[:n]), err
}

// TestSpareWritesRace: writers racing on a few files, with more writes at
// once than there are kept files, while readers read them through the API
// and on the host: every read is one whole content written to that file
// (contents differ in size, so a reused file that was not cut, or was
// filled for another target, shows).
func TestSpareWritesRace(t *testing.T) {
	s, hs := newServer(t)
	tok := mint(t, "race", token.ScopeSandboxUse)
	home := filepath.Join(s.SandboxDir("acme:alice:race"), "home", "user")
	content := func(file, n int) string {
		return fmt.Sprintf("file%d:%s:end", file, strings.Repeat("x", (n*37)%3000))
	}
	valid := func(file int, got string) bool {
		prefix := fmt.Sprintf("file%d:", file)
		return strings.HasPrefix(got, prefix) && strings.HasSuffix(got, ":end") &&
			strings.Trim(got[len(prefix):len(got)-4], "x") == ""
	}
	const files, writers, rounds = 3, 12, 40
	for f := range files {
		if e := call(t, hs.URL, tok, "race", "writeFile", fmt.Sprintf("/home/user/f%d", f), content(f, 0)); !e.OK {
			t.Fatal(e.Error)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range rounds {
				f := (w + n) % files
				if e := call(t, hs.URL, tok, "race", "writeFile", fmt.Sprintf("/home/user/f%d", f), content(f, w*rounds+n)); !e.OK {
					t.Error(e.Error)
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	reads := 0
	for r := range 2 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				f := n % files
				var got string
				if r == 0 {
					var v string
					e := call(t, hs.URL, tok, "race", "readFile", fmt.Sprintf("/home/user/f%d", f))
					if !e.OK || json.Unmarshal(e.Result, &v) != nil {
						t.Errorf("readFile: %+v", e)
						return
					}
					got = v
				} else {
					b, err := os.ReadFile(filepath.Join(home, fmt.Sprintf("f%d", f)))
					if err != nil {
						t.Error(err)
						return
					}
					got = string(b)
				}
				if !valid(f, got) {
					t.Errorf("f%d read %d bytes: %.40q", f, len(got), got)
					return
				}
				if r == 0 {
					reads++
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rg.Wait()
	if reads == 0 {
		t.Fatal("no read ran")
	}
	for f := range files {
		b, err := os.ReadFile(filepath.Join(home, fmt.Sprintf("f%d", f)))
		if err != nil || !valid(f, string(b)) {
			t.Fatalf("f%d at the end: %v %.40q", f, err, b)
		}
	}
}

// TestKeptFilesStayInTheirSandbox: a handle on a replaced file that the
// kernel does not count as open (an O_PATH descriptor, a bind mount: a
// sandbox's own namespace may hold either) still reaches the kept file, and
// reopening it reads what is written there next. So a file one sandbox
// replaced never takes another sandbox's content.
func TestKeptFilesStayInTheirSandbox(t *testing.T) {
	s, hs := newServer(t)
	ta, tb := mint(t, "ka", token.ScopeSandboxUse), mint(t, "kb", token.ScopeSandboxUse)
	write := func(tok, id, name, data string) {
		t.Helper()
		if e := call(t, hs.URL, tok, id, "writeFile", "/home/user/"+name, data); !e.OK {
			t.Fatalf("write %s/%s: %s", id, name, e.Error)
		}
	}
	write(ta, "ka", "f", "a's old")
	write(tb, "kb", "g", "b's old")
	fd, err := unix.Open(filepath.Join(s.SandboxDir("acme:alice:ka"), "home", "user", "f"), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	write(ta, "ka", "f", "a's new")
	write(tb, "kb", "g", "b's secret")
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "b's") {
		t.Fatalf("a's old file, reopened, reads %q: sandbox kb's content", b)
	}
}

// TestWriteGivesAFreshFile: a file written over by a kept file looks like
// one just made: no access time or inode flags of the file it was before
// (chattr's nodump here), as the new file of the general way.
func TestWriteGivesAFreshFile(t *testing.T) {
	s, hs := newServer(t)
	tok := mint(t, "fr", token.ScopeSandboxUse)
	home := filepath.Join(s.SandboxDir("acme:alice:fr"), "home", "user")
	write := func(name, data string) {
		t.Helper()
		if e := call(t, hs.URL, tok, "fr", "writeFile", "/home/user/"+name, data); !e.OK {
			t.Fatalf("write %s: %s", name, e.Error)
		}
	}
	write("x", "x1")
	write("y", "y1")
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(home, "x"), old, old); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(home, "x"))
	if err != nil {
		t.Fatal(err)
	}
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsNodumpFL))
	}
	f.Close()
	if err != nil {
		t.Fatalf("this test needs inode flags (chattr) in %s: %v", home, err)
	}
	write("x", "x2")
	write("y", "y2")
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(home, "y"), &st); err != nil {
		t.Fatal(err)
	}
	if at := time.Unix(st.Atim.Unix()); at.Before(old.Add(time.Hour)) {
		t.Errorf("y's access time is %v, the replaced x's", at)
	}
	f, err = os.Open(filepath.Join(home, "y"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS); err != nil || flags&fsNodumpFL != 0 {
		t.Errorf("y's inode flags %#x (%v): x's nodump came with its file", flags, err)
	}

	// A directory's flags that a new file takes from it are taken.
	if e := call(t, hs.URL, tok, "fr", "mkdir", "/home/user/d"); !e.OK {
		t.Fatal(e.Error)
	}
	write("d/w", "w1")
	setNodump(t, filepath.Join(home, "d"))
	write("y", "y3") // a plain file kept
	write("d/w", "w2")
	w, err := os.Open(filepath.Join(home, "d", "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if flags, err := unix.IoctlGetUint32(int(w.Fd()), unix.FS_IOC_GETFLAGS); err != nil || flags&fsNodumpFL == 0 {
		t.Errorf("w's inode flags %#x (%v): not its directory's nodump, as a new file there gets", flags, err)
	}
}

// fsNodumpFL is FS_NODUMP_FL of linux/fs.h (chattr +d).
const fsNodumpFL = 0x40

// setNodump sets chattr's nodump flag on p.
func setNodump(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsNodumpFL))
	}
	if err != nil {
		t.Fatalf("this test needs inode flags (chattr) in %s: %v", p, err)
	}
}

// TestSpareDirectoryFlagsStayThere: a file made in the spare directory
// takes that directory's inode flags, which are not the target's.
func TestSpareDirectoryFlagsStayThere(t *testing.T) {
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "spare"), 0o700); err != nil {
		t.Fatal(err)
	}
	setNodump(t, filepath.Join(data, "spare"))
	s, hs := newServer(t, func(o *localsandbox.Options) { o.DataDir = data })
	tok := mint(t, "sf", token.ScopeSandboxUse)
	for _, c := range []string{"a1", "a2"} {
		if e := call(t, hs.URL, tok, "sf", "writeFile", "/home/user/a", c); !e.OK {
			t.Fatal(e.Error)
		}
	}
	f, err := os.Open(filepath.Join(s.SandboxDir("acme:alice:sf"), "home", "user", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS); err != nil || flags&fsNodumpFL != 0 {
		t.Errorf("a's inode flags %#x (%v): the spare directory's nodump", flags, err)
	}
}

// TestKeptFilesAreBounded: however many files writes replace, the kept
// ones take at most 8 MiB of disk together (each sandbox's writes keep
// files of their own).
func TestKeptFilesAreBounded(t *testing.T) {
	s, hs := newServer(t)
	data := bytes.Repeat([]byte("k"), 1<<20-1)
	for round := range 2 {
		for i := range 12 {
			id := fmt.Sprintf("bound%d", i)
			if e := call(t, hs.URL, mint(t, id, token.ScopeSandboxUse), id, "writeFile", "/home/user/f", wireBytes(data[:len(data)-round])); !e.OK {
				t.Fatal(e.Error)
			}
		}
	}
	parent := filepath.Join(s.DataDir(), "spare")
	ents, err := os.ReadDir(parent)
	if err != nil || len(ents) != 1 {
		t.Fatalf("spare directory: %v %v", ents, err)
	}
	kept, err := os.ReadDir(filepath.Join(parent, ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range kept {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if total > 8<<20 {
		t.Fatalf("%d kept files of %d bytes together, want at most 8 MiB", len(kept), total)
	}
}
