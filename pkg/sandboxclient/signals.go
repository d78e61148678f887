package sandboxclient

import (
	"strconv"
	"strings"
)

// signalNames are the signals of a sandbox (a Linux-like system) by their
// kill(1) number, whatever the client's own platform numbers them.
var signalNames = [...]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
	7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
	13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT",
	19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU",
	25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR",
	31: "SIGSYS",
}

// signalAlias returns the name kill(1) also accepts for a signal.
func signalAlias(name string) (string, bool) {
	switch name {
	case "SIGIOT":
		return "SIGABRT", true
	case "SIGPOLL":
		return "SIGIO", true
	case "SIGCLD":
		return "SIGCHLD", true
	}
	return "", false
}

// ParseSignal turns a signal as kill(1) users write it into the name sent
// to signalProcess: "TERM", "SIGTERM", "term", "sigterm", "-TERM", "15" and
// "-15" all give "SIGTERM". Numbers follow Linux, the sandbox's system.
// Anything else is an *Error with CodeInvalidArgument listing the names.
func ParseSignal(s string) (string, error) {
	in := strings.TrimPrefix(strings.TrimSpace(s), "-")
	if in != "" && in[0] >= '0' && in[0] <= '9' {
		n, err := strconv.Atoi(in)
		if err == nil && n > 0 && n < len(signalNames) {
			return signalNames[n], nil
		}
		return "", &Error{Code: CodeInvalidArgument, Message: "unknown signal number " + quote(s) + ": use 1 to 31 or a name such as TERM"}
	}
	name := strings.ToUpper(in)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if a, ok := signalAlias(name); ok {
		return a, nil
	}
	for _, n := range signalNames {
		if n != "" && n == name {
			return n, nil
		}
	}
	return "", &Error{Code: CodeInvalidArgument, Message: "unknown signal " + quote(s) + ": use a name such as TERM, INT, KILL, HUP, USR1 or a number (kill -l lists them)"}
}

// SignalNames lists the signal names ParseSignal knows, in number order.
func SignalNames() []string {
	return append([]string(nil), signalNames[1:]...)
}
