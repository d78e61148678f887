package terminal

// A Worker replays its whole scrollback (up to 1 MiB) as output whenever a
// socket attaches, with no cursor: after a reconnect, the first output is
// mostly what this client already printed. history keeps the tail of what
// was printed so that this overlap is recognised and printed only once.

// historySize is how much printed output is kept: twice the largest
// replay, so that the start of a replay is still in it.
const historySize = 2 << 20

// minOverlap is the shortest overlap taken as a replay rather than a
// coincidence (a fresh prompt that happens to end the history), unless
// the overlap is the whole history.
const minOverlap = 64

// history is the tail of the output printed so far.
type history struct {
	buf []byte
}

// add records printed output; the buffer is compacted when it reaches
// twice historySize.
func (h *history) add(p []byte) {
	h.buf = append(h.buf, p...)
	if len(h.buf) >= 2*historySize {
		n := copy(h.buf, h.buf[len(h.buf)-historySize:])
		h.buf = h.buf[:n]
	}
}

// fresh returns the part of a replay that was not printed yet: data
// without its longest prefix that ends the history, when that prefix is
// long enough to be a replay (see minOverlap).
func (h *history) fresh(data []byte) []byte {
	hist := h.buf
	if len(hist) > historySize {
		hist = hist[len(hist)-historySize:]
	}
	k := overlap(hist, data)
	if k >= minOverlap || k > 0 && k == len(hist) {
		return data[k:]
	}
	return data
}

// overlap returns the length of the longest prefix of p that is a suffix
// of text, in O(len(text)+len(p)) with the Knuth-Morris-Pratt failure
// function of p.
func overlap(text, p []byte) int {
	if len(p) == 0 || len(text) == 0 {
		return 0
	}
	if len(text) > len(p) {
		// Only the last len(p) bytes can take part in a suffix.
		text = text[len(text)-len(p):]
	}
	if len(p) > len(text) {
		// Nor can a prefix be longer than text: the table below is 8
		// bytes per byte of p, and p is a server's message of up to
		// ReadLimit bytes.
		p = p[:len(text)]
	}
	fail := make([]int, len(p))
	for i, k := 1, 0; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = fail[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		fail[i] = k
	}
	k := 0
	for _, c := range text {
		for k > 0 && (k == len(p) || c != p[k]) {
			k = fail[k-1]
		}
		if c == p[k] {
			k++
		}
	}
	return k
}
