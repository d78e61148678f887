package localsandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"syscall"

	"github.com/nimbus-sh/nimbus/pkg/localsandbox/internal/sandboxinit"
	"github.com/nimbus-sh/nimbus/pkg/sandboxserver"
)

// Codes of failures reported by New and the helpers of this package (the
// wire codes of the API are the upstream ones, E_ARG_SHAPE and so on).
const (
	// CodeConfig: the server cannot be set up (data directory).
	CodeConfig = "E_LOCAL_CONFIG"
	// CodeIsolation: Options.Isolation asks for namespaces this machine
	// does not allow.
	CodeIsolation = "E_LOCAL_ISOLATION"
)

// Error is a failure of this package outside the wire protocol (setting
// up the server); use errors.As to read its Code.
type Error struct {
	// Code is the stable code, CodeConfig or CodeIsolation, for a program
	// to branch on.
	Code string
	// Message says what failed, prefixed "localsandbox: ".
	Message string
	// Err is the underlying cause, such as the *os.PathError of a data
	// directory that cannot be created; nil when there is none.
	Err error
}

// Error returns the message and its cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// writePlainFail answers the routes outside the remote API, whose errors
// have no "ok" member.
func writePlainFail(w http.ResponseWriter, e *sandboxserver.Error) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nimbus"`)
	}
	if e.Status == http.StatusServiceUnavailable {
		// As the remote API's answers (sandboxserver's envelope).
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	}
	w.WriteHeader(e.Status)
	b, _ := json.Marshal(map[string]string{"error": e.Message, "code": e.Code})
	_, _ = w.Write(b)
}

// overloaded answers a failure caused by the server running out of file
// descriptors or memory as the platform answers an overloaded Durable
// Object: 503 with Retry-After, so that clients retry later instead of
// taking it for the command's or the file's failure. Other errors give
// nil.
func overloaded(err error) *sandboxserver.Error {
	if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) && !errors.Is(err, syscall.ENOMEM) {
		return nil
	}
	return overloadedError(err)
}

// startOverloaded is overloaded for starting a command, where EAGAIN means
// the user may run no more processes for now.
func startOverloaded(err error) *sandboxserver.Error {
	if errors.Is(err, syscall.EAGAIN) {
		return overloadedError(err)
	}
	return overloaded(err)
}

func overloadedError(err error) *sandboxserver.Error {
	// The errno's words only: the error's own text names the host path
	// (the sandbox's directory) or the name inside the sandbox it failed on.
	what := "out of resources"
	var errno syscall.Errno
	if errors.As(err, &errno) {
		what = errno.Error()
	}
	if sandboxinit.MayHaveStarted(err) {
		// Never "retry shortly" alone for a command that may have run:
		// a client that did would run it twice.
		return sandboxserver.NewError(http.StatusServiceUnavailable, sandboxserver.CodeOverloaded,
			"the local sandbox backend is out of resources ("+what+"): the sandbox's init died as it started the command, which may have run; check before running it again")
	}
	return sandboxserver.NewError(http.StatusServiceUnavailable, sandboxserver.CodeOverloaded,
		"the local sandbox backend is out of resources ("+what+"); retry shortly")
}
