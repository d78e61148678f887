package localsandbox

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TypeScript runs on the host's node with its built-in type stripping,
// which node 22.6 introduced behind --experimental-strip-types and turned
// on by default in 22.18 and 23.6. A Worker strips types itself, so a
// sandbox there needs nothing; locally the host's node must be new enough.

// minStripTypes is the first node with type stripping, and how messages
// name it.
var minStripTypes = nodeVersion{22, 6, 0}

const minStripTypesText = "22.6"

// nodeVersion is a node release, major.minor.patch.
type nodeVersion [3]int

func (v nodeVersion) less(w nodeVersion) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}

func (v nodeVersion) String() string {
	return "v" + strconv.Itoa(v[0]) + "." + strconv.Itoa(v[1]) + "." + strconv.Itoa(v[2])
}

// parseNodeVersion reads `node --version` output ("v22.6.0\n"); ok is
// false for anything else.
func parseNodeVersion(out string) (v nodeVersion, ok bool) {
	s := strings.TrimPrefix(strings.TrimSpace(out), "v")
	// Pre-release and build suffixes ("23.0.0-nightly…") do not change
	// which flags the release understands.
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

// stripTypesFlags are the node flags that make `node -e` accept
// TypeScript on release v, or ok false when v cannot strip types. Where
// stripping is still behind its flag, the experimental warning it prints
// on every run is silenced too: a Worker prints no such line.
func stripTypesFlags(v nodeVersion) (flags []string, ok bool) {
	switch {
	case v.less(minStripTypes):
		return nil, false
	case v[0] == 22 && v.less(nodeVersion{22, 18, 0}), v[0] == 23 && v.less(nodeVersion{23, 6, 0}):
		return []string{"--experimental-strip-types", "--disable-warning=ExperimentalWarning"}, true
	}
	return nil, true
}

// nodeVersions remembers `node --version` per binary, so only the first
// TypeScript run of a server (and the first after node is replaced in
// place) pays for asking.
type nodeVersions struct {
	mu   sync.Mutex
	seen map[string]nodeSeen
}

type nodeSeen struct {
	fi  os.FileInfo
	out string
}

// nodeVersionOf returns the `node --version` output of the binary at
// path, run with the commands' environment.
func (s *Server) nodeVersionOf(ctx context.Context, path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	nv := &s.nodes
	nv.mu.Lock()
	if seen, ok := nv.seen[path]; ok && os.SameFile(seen.fi, fi) && seen.fi.ModTime().Equal(fi.ModTime()) && seen.fi.Size() == fi.Size() {
		nv.mu.Unlock()
		return seen.out, nil
	}
	nv.mu.Unlock()
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(vctx, path, "--version")
	cmd.Env = s.opts.HostEnv
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	nv.mu.Lock()
	if nv.seen == nil {
		nv.seen = map[string]nodeSeen{}
	}
	nv.seen[path] = nodeSeen{fi: fi, out: string(out)}
	nv.mu.Unlock()
	return string(out), nil
}

// tsRefusal is why the host's node cannot run TypeScript: answer is for
// the command's stderr and names node by its name alone; Error, for the
// server's log, says which binary on the host it is.
type tsRefusal struct {
	answer, host string
}

func (r *tsRefusal) Error() string { return r.host }

// typeScriptFlags returns the flags node at path needs for TypeScript, or
// the refusal that explains why it cannot run it.
func (s *Server) typeScriptFlags(ctx context.Context, path string) (flags []string, refusal *tsRefusal) {
	const needs = "typescript needs node ≥ " + minStripTypesText + " locally"
	out, err := s.nodeVersionOf(ctx, path)
	if err != nil {
		// The error names path (a stat or a start that failed): the
		// answer keeps its errno, or the words of an exit status.
		return nil, &tsRefusal{
			answer: needs + ", and `node --version` failed (" + hostErrText(err) + "); check the node on this machine's PATH, or run the code as javascript\n",
			host:   "`" + path + " --version` failed: " + err.Error(),
		}
	}
	v, ok := parseNodeVersion(out)
	if !ok {
		answered := strconv.Quote(strings.TrimSpace(out))
		return nil, &tsRefusal{
			answer: needs + ", and `node --version` answered " + answered + "; check the node on this machine's PATH, or run the code as javascript\n",
			host:   "`" + path + " --version` answered " + answered,
		}
	}
	flags, ok = stripTypesFlags(v)
	if !ok {
		return nil, &tsRefusal{
			answer: needs + " (this machine has node " + v.String() + "): the local backend runs TypeScript with node's built-in type stripping; install node " + minStripTypesText + " or newer, or run the code as javascript\n",
			host:   "node " + v.String() + " at " + path + " cannot strip types",
		}
	}
	return flags, nil
}
