package sandboxclient

import (
	"net/http"
	"slices"
	"strings"
)

// redactedToken stands in for the bearer token where a server's text
// repeats it.
const redactedToken = "[redacted token]"

// minRedacted is the shortest token that is redacted: anything shorter
// would hide ordinary words.
const minRedacted = 8

// minFragment is the shortest piece of a token's secret part that is
// redacted on its own: 16 base64url characters are 96 bits, which no word
// of a message has in common with a token by chance, and what a piece
// shorter than that leaves unknown of a signature (27 of its 43
// characters) is still out of any guessing's reach.
const minFragment = 16

// bearerOf returns the bearer token req carried, or "".
func bearerOf(req *http.Request) string {
	if req == nil {
		return ""
	}
	scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// withoutToken is RedactToken with the bearer token req carried.
func withoutToken(s string, req *http.Request) string {
	return RedactToken(s, bearerOf(req))
}

// RedactToken hides token wherever s, a server's text bound for an error
// message, repeats it: a Worker or a proxy that echoes the request (an
// error page quoting its headers, a message quoting the token it refused,
// a status line) must not put the credential in a CI log. It is the one
// rule of the module: every error made of a server's text goes through it.
// Call it before the text is cut to a bound.
//
// The rule:
//
//   - s is read through the escapes a server or a proxy applies when it
//     quotes a request: percent-encoding (%2E, %2e, or every byte), JSON's
//     \u escapes (\u002e) and \/, and HTML's numeric references (&#46;,
//     &#x2e;). One level of them: a token escaped twice is not recognised.
//   - A span of s that reads as the whole token, or as a run of at least
//     16 characters of its secret part, is replaced by [redacted token];
//     spans that touch or overlap make one. A run catches the pieces a
//     server quotes (the signature alone, the payload and signature, a
//     token cut after its first bytes, by the server or by a read limit).
//   - The secret part of a JWT (three segments joined by dots, the first
//     a base64url JSON object, "eyJ") is its payload and signature. Its
//     header segment (base64url {"alg":"HS256","typ":"JWT"}) is the same
//     in every token and says nothing secret: quoted alone it is left as
//     it is, so a message that names the header it refused stays whole.
//     A token of any other shape is secret whole.
//   - Tokens shorter than 8 bytes are left alone (they would hide
//     ordinary words); pieces shorter than 16 characters are left alone.
//
// The client holds no signing secret (a TokenSource hands it tokens), so
// there is none to hide here; whoever mints tokens keeps its JWT_SECRET out
// of its own messages.
//
// The cost is one pass over s: only runs of 16 or more bytes that all occur
// in the token are looked up in it, and s is not copied unless it holds
// an escape or the token.
func RedactToken(s, token string) string {
	if len(token) < minRedacted || len(s) < minRedacted {
		return s
	}
	secret := token
	if strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2 {
		secret = token[strings.IndexByte(token, '.')+1:]
	}
	var in [256]bool
	for i := 0; i < len(token); i++ {
		in[token[i]] = true
	}
	d, at := decodeEscapes(s)
	var spans [][2]int // in d
	for i := 0; i < len(d); {
		if !in[d[i]] {
			i++
			continue
		}
		j := i + 1
		for j < len(d) && in[d[j]] {
			j++
		}
		// d[i:j] is a run of the token's bytes: the token, and each
		// window of it that is in the secret part, are hidden.
		for off := i; j-off >= len(token); {
			k := strings.Index(d[off:j], token)
			if k < 0 {
				break
			}
			spans = append(spans, [2]int{off + k, off + k + len(token)})
			off += k + len(token)
		}
		if len(secret) >= minFragment {
			for k := i; k+minFragment <= j; k++ {
				if strings.Contains(secret, d[k:k+minFragment]) {
					spans = append(spans, [2]int{k, k + minFragment})
				}
			}
		}
		i = j
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	b.Grow(len(s))
	last := 0 // in s
	for n := 0; n < len(spans); {
		lo, hi := spans[n][0], spans[n][1]
		for n++; n < len(spans) && spans[n][0] <= hi; n++ {
			hi = max(hi, spans[n][1])
		}
		from, to := lo, hi
		if at != nil {
			from, to = int(at[lo]), int(at[hi])
		}
		b.WriteString(s[last:from])
		b.WriteString(redactedToken)
		last = to
	}
	b.WriteString(s[last:])
	return b.String()
}

// decodeEscapes returns s with one level of percent, JSON and HTML numeric
// escapes of ASCII characters decoded, and, unless s has none (then at is
// nil and d is s), at: the offset in s of each byte of d, and len(s) after
// the last.
func decodeEscapes(s string) (d string, at []int32) {
	if !strings.ContainsAny(s, `%\&`) {
		return s, nil
	}
	buf := make([]byte, 0, len(s))
	at = make([]int32, 0, len(s)+1)
	for i := 0; i < len(s); {
		c, n := s[i], 1
		switch s[i] {
		case '%':
			if v, ok := hexValue(s, i+1, 2); ok {
				c, n = byte(v), 3
			}
		case '\\':
			if i+1 < len(s) && (s[i+1] == '/' || s[i+1] == '\\') {
				// \\ is one backslash: the \ after it starts no escape.
				c, n = s[i+1], 2
			} else if i+1 < len(s) && s[i+1] == 'u' {
				if v, ok := hexValue(s, i+2, 4); ok && v < 0x80 {
					c, n = byte(v), 6
				}
			}
		case '&':
			if c2, n2 := htmlReference(s[i:]); n2 > 0 {
				c, n = c2, n2
			}
		}
		buf = append(buf, c)
		at = append(at, int32(i))
		i += n
	}
	at = append(at, int32(len(s)))
	return string(buf), at
}

// hexValue parses the n hexadecimal digits of s at i.
func hexValue(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// htmlReference decodes a numeric character reference of an ASCII
// character at the start of s (&#46; or &#x2E;), returning its length, or
// 0.
func htmlReference(s string) (byte, int) {
	if len(s) < 4 || s[1] != '#' {
		return 0, 0
	}
	i, base := 2, 10
	if s[2] == 'x' || s[2] == 'X' {
		i, base = 3, 16
	}
	v, digits := 0, 0
	for ; i < len(s) && digits < 6; i++ {
		c := s[i]
		var dv int
		switch {
		case '0' <= c && c <= '9':
			dv = int(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			dv = int(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			dv = int(c-'A') + 10
		case c == ';' && digits > 0 && v < 0x80:
			return byte(v), i + 1
		default:
			return 0, 0
		}
		v = v*base + dv
		digits++
	}
	return 0, 0
}
