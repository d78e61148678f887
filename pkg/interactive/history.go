package interactive

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// rewrite replaces the file with the entries kept, atomically.
func (h *History) rewrite() error {
	tmp, err := os.CreateTemp(filepath.Dir(h.path), ".history-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for _, e := range h.entries {
		_, _ = w.WriteString(e + "\n")
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), h.path)
}
