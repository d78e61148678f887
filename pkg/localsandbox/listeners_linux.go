package localsandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// hostListeners maps the TCP ports listened on by the process trees of
// leaders (host pid of each background process → the process) to the
// process: the kernel's listening sockets are matched with the socket
// descriptors of the leaders and their descendants.
func hostListeners(_ context.Context, leaders map[int]*proc) map[int]*proc {
	out := map[int]*proc{}
	inodes, err := listenInodesNetlink()
	if err != nil {
		// /proc/net/tcp lists every socket of the host and is slow to
		// generate on a busy machine: only when sock_diag is refused.
		inodes = listenInodesProc()
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

// listenInodesProc reads the listening TCP sockets (socket inode → local
// port) from /proc/net/tcp and tcp6.
func listenInodesProc() map[uint64]int {
	inodes := map[uint64]int{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err == nil {
			parseProcNetTCP(b, inodes)
		}
	}
	return inodes
}

// listenInodesNetlink asks the kernel (NETLINK_SOCK_DIAG) for the
// listening TCP sockets of this network namespace, IPv4 and IPv6: socket
// inode → local port. Only listeners are dumped, which is what makes it
// fast.
func listenInodesNetlink() (map[uint64]int, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkSockDiag)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 2}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return nil, err
	}
	inodes := map[uint64]int{}
	for _, family := range []uint8{syscall.AF_INET, syscall.AF_INET6} {
		if err := dumpListeners(fd, family, inodes); err != nil {
			return nil, err
		}
	}
	return inodes, nil
}

const (
	netlinkSockDiag   = 4  // NETLINK_SOCK_DIAG
	sockDiagByFamily  = 20 // SOCK_DIAG_BY_FAMILY
	tcpListen         = 10 // TCP_LISTEN
	inetDiagReqV2Len  = 56 // struct inet_diag_req_v2
	inetDiagMsgMinLen = 72 // struct inet_diag_msg
)

// dumpListeners sends one inet_diag_req_v2 dump request for family's
// listening TCP sockets and reads the answers into inodes.
func dumpListeners(fd int, family uint8, inodes map[uint64]int) error {
	req := make([]byte, syscall.NLMSG_HDRLEN+inetDiagReqV2Len)
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:6], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:8], syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:12], uint32(family))
	body := req[syscall.NLMSG_HDRLEN:]
	body[0], body[1] = family, syscall.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[4:8], 1<<tcpListen)
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return nil
			case syscall.NLMSG_ERROR:
				return errors.New("sock_diag: the kernel refused the dump")
			}
			if m.Header.Seq != uint32(family) || len(m.Data) < inetDiagMsgMinLen || m.Data[1] != tcpListen {
				continue
			}
			port := binary.BigEndian.Uint16(m.Data[4:6])
			ino := binary.NativeEndian.Uint32(m.Data[68:72])
			if port != 0 && ino != 0 {
				inodes[uint64(ino)] = int(port)
			}
		}
	}
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
// leaders: the leaders and their descendants, found by walking the
// kernel's children lists; where the kernel has none, by scanning every
// process for one in a leader's process group or descended from it.
func sandboxMembers(leaders map[int]*proc) map[int]*proc {
	out := map[int]*proc{}
	for hp, p := range leaders {
		if !walkChildren(hp, p, out, 0) {
			return scanMembers(leaders)
		}
	}
	return out
}

// walkChildren adds pid and its descendants to out; false means the
// kernel does not list children (CONFIG_PROC_CHILDREN).
func walkChildren(pid int, p *proc, out map[int]*proc, depth int) bool {
	out[pid] = p
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		// Gone meanwhile.
		return true
	}
	for _, task := range tasks {
		b, err := os.ReadFile(dir + "/" + task.Name() + "/children")
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if _, serr := os.Stat(dir + "/" + task.Name()); serr == nil {
					return false
				}
			}
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(f)
			if err == nil && out[child] == nil && depth < 64 {
				if !walkChildren(child, p, out, depth+1) {
					return false
				}
			}
		}
	}
	return true
}

// scanMembers is sandboxMembers by a scan of every process.
func scanMembers(leaders map[int]*proc) map[int]*proc {
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
