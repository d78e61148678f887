// Package shellquote turns argv words into one POSIX shell command line, the
// way `nimbus sandbox exec ID -- WORDS...` sends them.
package shellquote

import "strings"

// Join returns the command line for words. A single word is returned
// verbatim, so `exec job -- 'make test && ls'` runs that shell line; several
// words are each quoted so the remote shell sees exactly these words.
func Join(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = Quote(w)
	}
	return strings.Join(quoted, " ")
}

// Quote returns w quoted for a POSIX shell. Words made only of characters
// that are never special stay bare, for readable command lines; anything
// else is single-quoted, each embedded single quote becoming the four
// characters: quote, backslash, quote, quote.
func Quote(w string) string {
	if w == "" {
		return "''"
	}
	if isSafe(w) {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

func isSafe(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("@%+=:,./_-", c) >= 0:
		default:
			return false
		}
	}
	return true
}
