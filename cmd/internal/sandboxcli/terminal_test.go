package sandboxcli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/clierr"
	"github.com/nimbus-sh/nimbus/internal/style"
	"github.com/nimbus-sh/nimbus/pkg/terminal"
)

func TestAttachErrorHints(t *testing.T) {
	for _, tc := range []struct {
		err  *terminal.Error
		exit int
		hint string
	}{
		{&terminal.Error{Code: "E_SCOPE_MISSING", Status: 403, Message: "Missing required scope: session:attach"}, 77, "--scopes session:attach --sid job-1"},
		{&terminal.Error{Code: "E_SESSION_PIN_MISMATCH", Status: 403}, 77, "pinned (sid) to another session"},
		{&terminal.Error{Code: "E_TOKEN_EXPIRED", Status: 401}, 77, "expired"},
		{&terminal.Error{Code: terminal.CodeBusy}, 75, "nimbus session attach --wait job-1"},
		{&terminal.Error{Code: terminal.CodeTakenOver}, 1, "takes it back"},
		{&terminal.Error{Code: terminal.CodeInterrupted}, 130, ""},
		{&terminal.Error{Code: terminal.CodeInvalidArgument, Message: "bad"}, 64, ""},
	} {
		var ce *clierr.Error
		if !errors.As(AttachError(tc.err, Hints{ID: "job-1"}), &ce) || ce.Exit != tc.exit || !strings.Contains(ce.Hint, tc.hint) {
			t.Errorf("%s: %+v, want exit %d and hint %q", tc.err.Code, ce, tc.exit, tc.hint)
		}
	}
	// Not a terminal error: the sandbox mapping.
	if code, _ := exitOf(t, AttachError(errors.New("surprise"), Hints{ID: "job-1"})); code != 70 {
		t.Errorf("exit %d", code)
	}
}

// TestAttachMintHintNamesTheTenant: the mint command of session attach's
// token hints names the tenant and subject the command resolved, quoted;
// T only when none is known.
func TestAttachMintHintNamesTheTenant(t *testing.T) {
	err := &terminal.Error{Code: "E_TOKEN_EXPIRED", Status: 401}
	for _, c := range []struct {
		h    Hints
		want string
	}{
		{Hints{ID: "job-1", Tenant: "acme", Subject: "ci"},
			"the token expired: nimbus token mint --tenant acme --sub ci --scopes session:attach --sid job-1, or let nimbus mint short-lived ones (JWT_SECRET with --tenant)"},
		{Hints{ID: "job-1", Tenant: "my team"},
			"the token expired: nimbus token mint --tenant 'my team' --scopes session:attach --sid job-1, or let nimbus mint short-lived ones (JWT_SECRET with --tenant)"},
		{Hints{ID: "job-1"},
			"the token expired: nimbus token mint --tenant T --scopes session:attach --sid job-1, or let nimbus mint short-lived ones (JWT_SECRET with --tenant)"},
	} {
		var ce *clierr.Error
		if !errors.As(AttachError(err, c.h), &ce) || ce.Hint != c.want {
			t.Errorf("%+v: hint\n%q, want\n%q", c.h, ce.Hint, c.want)
		}
	}
}

func TestAttachNotices(t *testing.T) {
	var b bytes.Buffer
	n := &AttachNotices{W: &b, Styles: style.New(false), Raw: true, ID: "demo", Detach: "Enter ~ .", Chatty: true}
	n.Event(terminal.Event{Kind: terminal.EventConnected})
	n.Event(terminal.Event{Kind: terminal.EventDisconnected, Err: errors.New("read: connection\nreset")})
	n.Event(terminal.Event{Kind: terminal.EventRetrying, Err: errors.New("refused"), Delay: 1500 * time.Millisecond})
	n.Event(terminal.Event{Kind: terminal.EventRetrying, Err: errors.New("refused"), Delay: 2250 * time.Millisecond})
	n.Event(terminal.Event{Kind: terminal.EventKeysDropped})
	n.Event(terminal.Event{Kind: terminal.EventReconnected})
	n.Event(terminal.Event{Kind: terminal.EventProcessTerminal, PID: 7, Command: "opencode"})
	code := 3
	n.Event(terminal.Event{Kind: terminal.EventProcessDetached, PID: 7, Code: &code})
	want := "[nimbus] attached to demo; Enter ~ . detaches\r\n" +
		"\r\n[nimbus] connection lost (read: connection reset); reconnecting…\r\n" +
		"\r\n[nimbus] refused; retrying in 1.5s\r\n" + // the same error again is not repeated
		"\r\n[nimbus] not connected: keys are not sent (Enter ~ . detaches, Ctrl-C stops)\r\n" +
		"\r\n[nimbus] reconnected\r\n" +
		"\r\n[nimbus] \"opencode\" (pid 7) runs in its own process terminal; follow it with: nimbus sandbox attach demo 7, or in the browser (nimbus session url --session demo)\r\n" +
		"\r\n[nimbus] pid 7 exited with code 3; back to the shell\r\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	n.End(terminal.Result{Reason: terminal.Detached})
	n.End(terminal.Result{Reason: terminal.Closed, CloseReason: "terminal closed"})
	if got := b.String(); got != "[nimbus] detached from demo; its shell keeps running. Reattach: nimbus session attach demo\n[nimbus] the shell of demo exited\n" {
		t.Fatalf("%q", got)
	}
}

// TestAttachNoticesWriteCommandsAsTheHintsDo: the commands the notices
// suggest are rendered by the builder of every hint on a sandbox, as
// AttachError's are: the session written the same way (quoted for a
// shell: a hint may name an id the Worker refuses), so a notice and a
// hint cannot drift apart.
func TestAttachNoticesWriteCommandsAsTheHintsDo(t *testing.T) {
	const id = "my session"
	var b bytes.Buffer
	n := &AttachNotices{W: &b, Styles: style.New(false), ID: id}
	n.Event(terminal.Event{Kind: terminal.EventProcessTerminal, PID: 7, Command: "vim"})
	n.End(terminal.Result{Reason: terminal.Detached})
	want := "[nimbus] \"vim\" (pid 7) runs in its own process terminal; follow it with: nimbus sandbox attach 'my session' 7, or in the browser (nimbus session url --session 'my session')\n" +
		"[nimbus] detached from my session; its shell keeps running. Reattach: nimbus session attach 'my session'\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	// The hint of the same session's error writes it alike.
	var ce *clierr.Error
	if !errors.As(AttachError(&terminal.Error{Code: terminal.CodeTakenOver, Message: "taken over"}, Hints{ID: id}), &ce) ||
		!strings.Contains(ce.Hint, "nimbus session attach 'my session' takes it back") {
		t.Fatalf("hint %+v", ce)
	}
}
