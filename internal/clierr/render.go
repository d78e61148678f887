package clierr

import (
	"io"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
	"github.com/nimbus-sh/nimbus/internal/style"
)

// RenderOptions describes where an error is being written.
type RenderOptions struct {
	// TTY is true when stderr is a terminal.
	TTY bool
	// JSON is the global --json flag.
	JSON bool
	// CommandPath prefixes plain errors, e.g. "nimbus token mint".
	CommandPath string
	// Styles colours terminal output.
	Styles *style.Styles
}

// Render writes e to w in the form cli.md prescribes:
//
//   - with --json: one JSON object {"error","code","hint"}, indented when
//     stderr is a terminal and compact otherwise, like every JSON document
//     nimbus writes;
//   - for people on a terminal: "nimbus: <message> (<code>)" and a hint
//     line;
//   - for programs, as upstream writes it: one compact JSON line
//     {"error","code"}, or for Plain errors the bare
//     "<command>: <message>" line upstream printed for usage and
//     configuration problems.
func Render(w io.Writer, e *Error, o RenderOptions) {
	if e.silent {
		return
	}
	var b strings.Builder
	switch {
	case o.JSON || (!o.TTY && !e.Plain && e.Code != ""):
		members := []jsjson.Member{{Key: "error", Value: jsjson.StringValue(e.Message)}}
		if e.Code != "" {
			members = append(members, jsjson.Member{Key: "code", Value: jsjson.StringValue(e.Code)})
		}
		if o.JSON && e.Hint != "" {
			members = append(members, jsjson.Member{Key: "hint", Value: jsjson.StringValue(e.Hint)})
		}
		b.Write(marshal(jsjson.Value{Kind: jsjson.Object, Items: members}, o.JSON && o.TTY))
	case !o.TTY:
		b.WriteString(prefix(o) + ": " + TerminalText(e.Message) + "\n")
	default:
		// Messages may quote a server: no escape sequence of theirs reaches
		// the terminal.
		st := o.Styles
		if st == nil {
			st = style.New(false)
		}
		b.WriteString(st.Error("nimbus:") + " " + TerminalText(e.Message))
		if e.Code != "" {
			b.WriteString(" " + st.Muted("("+TerminalText(e.Code)+")"))
		}
		b.WriteString("\n")
		if e.Hint != "" {
			b.WriteString(st.Bold("hint:") + " " + TerminalText(e.Hint) + "\n")
		}
	}
	io.WriteString(w, b.String())
}
