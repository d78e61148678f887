package localsandbox

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
)

// hostListeners maps the TCP ports listened on by the process trees of
// leaders (host pid of each background process → the process) to the
// process: the kernel's listening sockets (/proc/net/tcp and tcp6) are
// matched with the socket descriptors of every process whose process
// group is a leader's or whose ancestry reaches one.
func hostListeners(_ context.Context, leaders map[int]*proc) map[int]*proc {
	out := map[int]*proc{}
	inodes := map[uint64]int{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err == nil {
			parseProcNetTCP(b, inodes)
		}
	}
	if len(inodes) == 0 {
		return out
	}
	members := sandboxMembers(leaders)
	for pid, p := range members {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			link, err := os.Readlink(dir + "/" + e.Name())
			if err != nil {
				continue
			}
			rest, ok := strings.CutPrefix(link, "socket:[")
			if !ok {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
			if err != nil {
				continue
			}
			if port, ok := inodes[ino]; ok {
				out[port] = p
			}
		}
	}
	return out
}

// parseProcNetTCP adds the listening sockets of a /proc/net/tcp{,6} table
// to inodes (socket inode → local port).
func parseProcNetTCP(b []byte, inodes map[uint64]int) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		_, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil || port == 0 {
			continue
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil || ino == 0 {
			continue
		}
		inodes[ino] = int(port)
	}
}

// sandboxMembers returns every host process belonging to one of the
// leaders: in its process group, or descended from it.
func sandboxMembers(leaders map[int]*proc) map[int]*proc {
	type stat struct{ ppid, pgrp int }
	all := map[int]stat{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return map[int]*proc{}
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		ppid, pgrp, ok := parseProcStat(b)
		if ok {
			all[pid] = stat{ppid, pgrp}
		}
	}
	out := map[int]*proc{}
	for pid, st := range all {
		if p := leaders[pid]; p != nil {
			out[pid] = p
			continue
		}
		if p := leaders[st.pgrp]; p != nil {
			out[pid] = p
			continue
		}
		// Walk up the ancestry (bounded: a cycle cannot happen, but a
		// racing table could look like one).
		for up, n := st.ppid, 0; up > 1 && n < 64; n++ {
			if p := leaders[up]; p != nil {
				out[pid] = p
				break
			}
			next, ok := all[up]
			if !ok {
				break
			}
			up = next.ppid
		}
	}
	return out
}

// parseProcStat reads the parent pid and process group from a
// /proc/<pid>/stat line, "pid (comm) state ppid pgrp …"; comm may contain
// spaces and parentheses, so the fields start after the last ")".
func parseProcStat(b []byte) (ppid, pgrp int, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	return ppid, pgrp, err1 == nil && err2 == nil
}
