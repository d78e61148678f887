package interactive

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
)

// DefaultHistorySize is how many lines a History keeps.
const DefaultHistorySize = 1000

// History is the line history of a shell, kept in a file (mode 0600: lines
// may hold secrets) so that it survives the session. It implements
// golang.org/x/term's History. Like bash with HISTCONTROL=ignoreboth, it
// does not record blank lines, lines starting with a space, or a repeat of
// the previous line. It is safe for concurrent use.
type History struct {
	path string
	max  int

	mu      sync.Mutex
	entries []string // oldest first
	err     error
}

// OpenHistory loads the history kept in path (a missing file is an empty
// history) keeping the last max lines (0 means DefaultHistorySize). New
// lines are appended to the file as they are added.
func OpenHistory(path string, max int) (*History, error) {
	if max <= 0 {
		max = DefaultHistorySize
	}
	h := &History{path: path, max: max}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			h.entries = append(h.entries, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(h.entries) > max {
		h.entries = h.entries[len(h.entries)-max:]
		// Compact the file to what is kept.
		if err := h.rewrite(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Add records a line and appends it to the file. A failure to write is
// kept for Err; the line stays in memory.
func (h *History) Add(entry string) {
	if strings.TrimSpace(entry) == "" || strings.HasPrefix(entry, " ") || strings.ContainsAny(entry, "\r\n") {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.entries); n > 0 && h.entries[n-1] == entry {
		return
	}
	h.entries = append(h.entries, entry)
	if len(h.entries) > h.max {
		h.entries = h.entries[len(h.entries)-h.max:]
	}
	if h.err == nil {
		h.err = h.append(entry)
	}
}

// Len returns the number of lines kept.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

// At returns a line; 0 is the most recent.
func (h *History) At(i int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.entries[len(h.entries)-1-i]
}

// Err returns the first failure to write the file, if any.
func (h *History) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *History) append(entry string) error {
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(entry + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rewrite replaces the file with the entries kept, atomically, mode 0600
// whatever it had (lines typed at a shell can hold secrets). Not synced: a
// power loss costs at most the trimming, and the file is rewritten every
// time it grows past its limit.
func (h *History) rewrite() error {
	var b strings.Builder
	for _, e := range h.entries {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return atomicfile.WriteFile(h.path, []byte(b.String()), atomicfile.Options{Perm: 0o600, Exact: true})
}
