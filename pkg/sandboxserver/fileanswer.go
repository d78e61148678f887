package sandboxserver

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
)

// Answers read from an open file while they are written. A readFile of
// 28 MiB answered from memory holds the data, its text and its JSON at
// once (about three times the file), and eight such reads at once took
// nimbus dev to 670 MiB; streamed, each costs two small buffers whatever
// the file's size.

// FileBytes is a bytes result (readFileBytes, readRange) that WriteOK
// sends from R as it writes the answer: exactly Size bytes, announced in
// Content-Length. WriteOK closes R.
//
// If R fails or ends early before anything was sent, the answer is the
// bytes R gave (a file that shrank since its size was taken) or Fail's
// error; once the answer has started, the connection is cut instead, so
// that a client never takes a short answer for the whole file.
type FileBytes struct {
	// R yields the data, from its first byte on.
	R io.ReadCloser
	// Size is how many bytes the answer holds.
	Size int64
	// Fail turns a read error into the op's error answer; nil answers
	// the error's text as E_NIMBUS_REMOTE_RPC.
	Fail func(error) *Error
}

// FileText is a text result (readFile) that WriteOK sends from R as it
// writes the answer, byte for byte what WriteOK sends for the string
// strings.ToValidUTF8(text, "\uFFFD"). Its length is not known in
// advance, so the answer is chunked. More than Limit bytes from R cut the
// connection, as does a read error once the answer has started; a read
// error before is Fail's error answer. WriteOK closes R.
type FileText struct {
	// R yields the text, from its first byte on.
	R io.ReadCloser
	// Limit is the most bytes the text may have.
	Limit int64
	// Fail turns a read error into the op's error answer; nil answers
	// the error's text as E_NIMBUS_REMOTE_RPC.
	Fail func(error) *Error
}

// fileChunk is how much of the file one write of the answer carries (a
// multiple of 3, so that no base64 padding appears mid-text).
const fileChunk = 48 << 10

// fileBufs hold a chunk of the file and its encoding.
type fileBufs struct{ raw, out, text []byte }

var fileBufPool = sync.Pool{New: func() any {
	return &fileBufs{raw: make([]byte, fileChunk), out: make([]byte, 0, 2*fileChunk)}
}}

func failAnswer(fail func(error) *Error, err error) *Error {
	if fail != nil {
		return fail(err)
	}
	return RPCError(err.Error())
}

// abortAnswer cuts the connection of an answer that has started: the
// client sees a broken response, never a short one taken for whole.
func abortAnswer() { panic(http.ErrAbortHandler) }

// writeFileBytes answers fb; see FileBytes.
func writeFileBytes(w http.ResponseWriter, fb FileBytes, rpcMs *int64) {
	defer fb.R.Close()
	bufs := fileBufPool.Get().(*fileBufs)
	defer fileBufPool.Put(bufs)
	first := min(fb.Size, fileChunk)
	n, err := io.ReadFull(fb.R, bufs.raw[:first])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		WriteFail(w, failAnswer(fb.Fail, err))
		return
	}
	if int64(n) < first || fb.Size == first {
		// All of the data is in hand: the answer is the in-memory one.
		writeBytesOK(w, bufs.raw[:n], rpcMs)
		return
	}
	head, tail := bytesEnvelope(rpcMs)
	APIHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head))+(fb.Size+2)/3*4+int64(len(tail)), 10))
	w.WriteHeader(http.StatusOK)
	out := append(bufs.out[:0], head...)
	left := fb.Size
	for {
		out = base64.StdEncoding.AppendEncode(out, bufs.raw[:n])
		left -= int64(n)
		if left == 0 {
			out = append(out, tail...)
		}
		if _, err := w.Write(out); err != nil || left == 0 {
			return
		}
		out = out[:0]
		n, err = io.ReadFull(fb.R, bufs.raw[:min(left, fileChunk)])
		if err != nil {
			abortAnswer()
		}
	}
}

// writeFileText answers ft; see FileText.
func writeFileText(w http.ResponseWriter, ft FileText, rpcMs *int64) {
	defer ft.R.Close()
	bufs := fileBufPool.Get().(*fileBufs)
	defer fileBufPool.Put(bufs)
	n, err := io.ReadFull(ft.R, bufs.raw)
	end := err == io.EOF || err == io.ErrUnexpectedEOF
	if err != nil && !end {
		WriteFail(w, failAnswer(ft.Fail, err))
		return
	}
	if int64(n) > ft.Limit {
		WriteFail(w, ReadTooLarge(-1, ft.Limit))
		return
	}
	var fix utf8Fixer
	if end {
		// The whole text is in hand: the answer is the in-memory one.
		bufs.text = fix.append(bufs.text[:0], bufs.raw[:n], true)
		WriteOK(w, Text(bufs.text), true, rpcMs)
		return
	}
	APIHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := append(bufs.out[:0], `{"ok":true,"result":"`...)
	total := int64(n)
	for {
		bufs.text = fix.append(bufs.text[:0], bufs.raw[:n], end)
		out = appendJSONStringBody(out, bufs.text)
		if end {
			out = appendEnvelopeEnd(append(out, '"'), rpcMs)
		}
		if _, err := w.Write(out); err != nil || end {
			return
		}
		out = out[:0]
		n, err = io.ReadFull(ft.R, bufs.raw)
		end = err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !end {
			abortAnswer()
		}
		if total += int64(n); total > ft.Limit {
			abortAnswer()
		}
	}
}

// appendJSONStringBody appends the escaped body (no quotes) of the JSON
// string of valid UTF-8 text exactly as WriteOK's encoder (encoding/json)
// writes it: JSON.stringify's escaping, plus U+2028 and U+2029 escaped so
// that the text is also valid JavaScript.
func appendJSONStringBody(dst, text []byte) []byte {
	start := len(dst)
	dst = jsjson.AppendQuoteBytes(dst, text)
	// Drop the quotes.
	n := copy(dst[start:], dst[start+1:len(dst)-1])
	dst = dst[:start+n]
	// U+2028 and U+2029 (E2 80 A8, E2 80 A9) each become six bytes:
	// \u2028 grows the text by three, done from the end backwards.
	extra := 0
	for i := start; i+2 < len(dst); i++ {
		if dst[i] == 0xe2 && dst[i+1] == 0x80 && (dst[i+2] == 0xa8 || dst[i+2] == 0xa9) {
			extra += 3
			i += 2
		}
	}
	if extra == 0 {
		return dst
	}
	old := len(dst)
	dst = append(dst, make([]byte, extra)...)
	w := len(dst)
	for r := old; r > start; {
		if r-3 >= start && dst[r-3] == 0xe2 && dst[r-2] == 0x80 && (dst[r-1] == 0xa8 || dst[r-1] == 0xa9) {
			last := byte('8')
			if dst[r-1] == 0xa9 {
				last = '9'
			}
			w -= 6
			copy(dst[w:], `\u202`)
			dst[w+5] = last
			r -= 3
			continue
		}
		r--
		w--
		dst[w] = dst[r]
	}
	return dst
}

// utf8Fixer rewrites text piece by piece as strings.ToValidUTF8(text,
// "\uFFFD") rewrites it whole: a run of invalid bytes becomes one U+FFFD,
// even when the run spans two pieces, and a character cut by the end of a
// piece is completed by the next.
type utf8Fixer struct {
	cut     []byte // the start of a character cut by the last piece's end
	work    []byte // cut followed by the next piece
	invalid bool   // the last piece ended inside a run of invalid bytes
}

// append appends the valid text of p to dst; last says no piece follows.
func (f *utf8Fixer) append(dst, p []byte, last bool) []byte {
	if len(f.cut) > 0 {
		f.work = append(append(f.work[:0], f.cut...), p...)
		f.cut = f.cut[:0]
		p = f.work
	}
	return f.fix(dst, p, last)
}

func (f *utf8Fixer) fix(dst, p []byte, last bool) []byte {
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			f.invalid = false
			i++
			continue
		}
		if !last && !utf8.FullRune(p[i:]) {
			f.cut = append(f.cut[:0], p[i:]...)
			return dst
		}
		_, size := utf8.DecodeRune(p[i:])
		if size == 1 {
			if !f.invalid {
				dst = append(dst, "\uFFFD"...)
				f.invalid = true
			}
			i++
			continue
		}
		f.invalid = false
		dst = append(dst, p[i:i+size]...)
		i += size
	}
	return dst
}
