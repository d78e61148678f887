// Package suggest finds the known word a mistyped one was meant to be, for
// "did you mean" hints (config keys, token scopes).
package suggest

// Closest returns the candidate nearest to word by edit distance when it
// is close enough to be a typo (at most maxDist edits, and at most a third
// of the word's length), or "" when none is.
func Closest(word string, candidates []string, maxDist int) string {
	best, bestDist := "", maxDist+1
	for _, c := range candidates {
		if d := Distance(word, c); d < bestDist && d*3 <= max(len(word), 3) {
			best, bestDist = c, d
		}
	}
	return best
}

// Distance is the edit distance between a and b, in bytes, counting two
// adjacent bytes swapped as one edit (the optimal string alignment
// distance): "tokne" is one slip away from "token", where plain Levenshtein
// counts two and a third of a five-letter key is too many to suggest it.
func Distance(a, b string) int {
	// Three rows: a transposition looks two rows back.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
