package clierr

import (
	"io"
	"strings"

	"github.com/nimbus-sh/nimbus/internal/jsjson"
	"github.com/nimbus-sh/nimbus/internal/style"
)

// Warning is something the user should know that does not stop the
// command: a weak secret, a deprecated argument order, an unknown config
// key, standard input that will not be sent.
type Warning struct {
	Code    string
	Message string
	Hint    string
}

// RenderWarning writes w to out: for people a "!" line and a hint; with
// --json one JSON object {"warning","code","hint"} (indented on a
// terminal, as every JSON nimbus writes); otherwise one plain line
// "<command>: warning: <message>". Like errors, warnings may quote a
// server, so text lines carry no control characters of theirs.
func RenderWarning(out io.Writer, w *Warning, o RenderOptions) {
	var b strings.Builder
	switch {
	case o.JSON:
		members := []jsjson.Member{
			{Key: "warning", Value: jsjson.StringValue(w.Message)},
			{Key: "code", Value: jsjson.StringValue(w.Code)},
		}
		if w.Hint != "" {
			members = append(members, jsjson.Member{Key: "hint", Value: jsjson.StringValue(w.Hint)})
		}
		b.Write(marshal(jsjson.Value{Kind: jsjson.Object, Items: members}, o.TTY))
	case o.TTY:
		st := o.Styles
		if st == nil {
			st = style.New(false)
		}
		b.WriteString(st.WarningIcon() + " " + TerminalText(w.Message) + "\n")
		if w.Hint != "" {
			b.WriteString(st.Bold("hint:") + " " + TerminalText(w.Hint) + "\n")
		}
	default:
		b.WriteString(prefix(o) + ": warning: " + TerminalText(w.Message) + "\n")
	}
	io.WriteString(out, b.String())
}

func prefix(o RenderOptions) string {
	if o.CommandPath == "" {
		return "nimbus"
	}
	return o.CommandPath
}

// marshal is one JSON document and a newline, indented for a terminal.
func marshal(v jsjson.Value, indent bool) []byte {
	if indent {
		return append(jsjson.MarshalIndent(v, "  "), '\n')
	}
	return append(jsjson.Marshal(v), '\n')
}
