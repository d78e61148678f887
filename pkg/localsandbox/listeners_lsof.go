package localsandbox

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// lsofListener is one listening socket in lsof's field output.
type lsofListener struct{ pid, pgid, port int }

// parseLsof reads the output of `lsof -nP -iTCP -sTCP:LISTEN -Fpgn`: a
// "p<pid>" line starts a process (followed by "g<pgid>"), and every
// "n<address>:<port>" line names one of its listening sockets ("*:3000",
// "127.0.0.1:3000", "[::1]:3000"); other lines ("f<fd>") are skipped.
func parseLsof(b []byte) []lsofListener {
	var out []lsofListener
	pid, pgid := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		v := line[1:]
		switch line[0] {
		case 'p':
			pid, _ = strconv.Atoi(v)
			pgid = 0
		case 'g':
			pgid, _ = strconv.Atoi(v)
		case 'n':
			i := strings.LastIndexByte(v, ':')
			if i < 0 || pid == 0 {
				continue
			}
			// A connection's name is "local->remote"; listeners have none.
			if strings.Contains(v, "->") {
				continue
			}
			port, err := strconv.Atoi(v[i+1:])
			if err != nil || port < 1 || port > 65535 {
				continue
			}
			out = append(out, lsofListener{pid: pid, pgid: pgid, port: port})
		}
	}
	return out
}

// matchLsof maps the ports of listeners whose process or process group is
// a leader's to that leader's process.
func matchLsof(ls []lsofListener, leaders map[int]*proc) map[int]*proc {
	out := map[int]*proc{}
	for _, l := range ls {
		if p := leaders[l.pid]; p != nil {
			out[l.port] = p
		} else if p := leaders[l.pgid]; p != nil {
			out[l.port] = p
		}
	}
	return out
}
