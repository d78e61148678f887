// Package userinfo finds the user:password@ of an endpoint's authority in
// its text, so that the places that strip it (the cleanup ledger) and the
// places that mask it (messages) agree on where it is, also for an
// endpoint that does not parse as a URL, which is when a message quotes
// it.
package userinfo

import "strings"

// Cut slices endpoint around the userinfo of its authority: before is the
// scheme and "//" (or "//" alone, or ""), info what stands before the last
// "@" of the authority, and after the rest from the host on. found is
// false, and endpoint is returned as before, when the authority holds no
// "@".
func Cut(endpoint string) (before, info, after string, found bool) {
	auth := 0
	if i := strings.Index(endpoint, "://"); i >= 0 {
		auth = i + 3
	} else if strings.HasPrefix(endpoint, "//") {
		auth = 2
	}
	rest := endpoint[auth:]
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return endpoint, "", "", false
	}
	return endpoint[:auth], rest[:at], rest[at+1:], true
}
