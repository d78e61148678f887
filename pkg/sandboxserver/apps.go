package sandboxserver

import (
	"encoding/json"
	"strconv"
)

// The argument rules of the app ops (exposeApp, rotateLink, removeApp,
// ensureDurableApp, removeDurableApp, and exposePort's options), as the
// Worker's dispatcher applies them before the session sees the call.

// Kinds of AppTarget.
const (
	// TargetNumber is a bare number: a port if something listens on it or
	// has reserved it, else a pid.
	TargetNumber = "number"
	// TargetString is a bare string: an app name, else an owner.
	TargetString = "string"
	// TargetPort is the object form {port}: only a port, never a pid.
	TargetPort = "port"
	// TargetPID is the object form {pid}: only a process id.
	TargetPID = "pid"
	// TargetName is the object form {name}: only an app name.
	TargetName = "name"
	// TargetOwner is the object form {owner}: only the owner string an app
	// was registered under (ensureDurableApp's owner).
	TargetOwner = "owner"
)

// AppTarget names an application: Kind says which form the caller used;
// Num holds the number of the number, port and pid forms, Str the string
// of the others.
type AppTarget struct {
	// Kind is the form the caller used, one of the Target constants; it
	// says which of Num and Str holds the value and how String words the
	// target.
	Kind string
	// Num is the value of the TargetNumber, TargetPort and TargetPID
	// forms, read as JavaScript's Number() reads it (so "3000" counts); 0
	// for the other forms. It stays a float64 so that messages print a
	// fractional or huge number as the Worker does.
	Num float64
	// Str is the value of the TargetString, TargetName and TargetOwner
	// forms; "" for the numeric forms.
	Str string
}

// String describes the target in the words of the session's messages:
// "target 3000", "'web'", "port 3000", "pid 7", "app 'web'", "owner 'x'".
func (t AppTarget) String() string {
	switch t.Kind {
	case TargetNumber:
		return "target " + JSNumber(t.Num)
	case TargetString:
		return "'" + t.Str + "'"
	case TargetPort:
		return "port " + JSNumber(t.Num)
	case TargetPID:
		return "pid " + JSNumber(t.Num)
	case TargetName:
		return "app '" + t.Str + "'"
	}
	return "owner '" + t.Str + "'"
}

// JSNumber formats f as JavaScript's String(number) does for the values
// messages show (integers without a fraction, no exponent below 1e21).
func JSNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// AppTarget reads argument i as an app target: a number, a string, or an
// object whose first present member of port, pid, name and owner (in that
// order) says the form. Anything else is 400 E_ARG_SHAPE.
func (c *Call) AppTarget(i int) (AppTarget, *Error) {
	switch v := c.Arg(i).(type) {
	case json.Number:
		f, ok := Number(v, true)
		if !ok {
			return AppTarget{}, ArgError("target must be a number")
		}
		return AppTarget{Kind: TargetNumber, Num: f}, nil
	case float64, int:
		f, _ := Number(v, true)
		return AppTarget{Kind: TargetNumber, Num: f}, nil
	case string:
		return AppTarget{Kind: TargetString, Str: v}, nil
	}
	o := c.Obj(i)
	for _, k := range []string{TargetPort, TargetPID} {
		if v, has := o[k]; has {
			f, ok := Number(v, true)
			if !ok {
				return AppTarget{}, ArgError(k + " must be a number")
			}
			return AppTarget{Kind: k, Num: f}, nil
		}
	}
	for _, k := range []string{TargetName, TargetOwner} {
		if v, has := o[k]; has {
			s, ok := v.(string)
			if !ok {
				return AppTarget{}, ArgError(k + " must be a string")
			}
			return AppTarget{Kind: k, Str: s}, nil
		}
	}
	return AppTarget{}, ArgError("Nimbus app target must be a port, a pid, a name, or { port | pid | name | owner }")
}

// ExposeOptions are the options of exposePort and exposeApp. Visibility
// is "" when the caller left it out (the stored choice stands), else
// "public" or "scoped" (any other value); Name is nil when left out.
type ExposeOptions struct {
	// Visibility mirrors the options' "visibility": "" when left out, so
	// the app keeps the visibility it has; otherwise "public", or
	// "scoped" for any other value, as the Worker treats it.
	Visibility string
	// Name mirrors the options' "name": nil when left out, so the app
	// keeps its name; otherwise the name to give it, which the backend
	// checks with ValidAppName.
	Name *string
}

// ExposeOptions reads argument i as expose options; a name that is not a
// string is 400 E_ARG_SHAPE.
func (c *Call) ExposeOptions(i int) (ExposeOptions, *Error) {
	var o ExposeOptions
	m := c.Obj(i)
	if v, has := m["visibility"]; has {
		o.Visibility = visibility(v)
	}
	if v, has := m["name"]; has {
		s, ok := v.(string)
		if !ok {
			return o, ArgError("name must be a string")
		}
		o.Name = &s
	}
	return o, nil
}

// DurableApp is ensureDurableApp's input. PreferredPort is 0 when left
// out; Visibility is "" when left out.
type DurableApp struct {
	// Owner mirrors "owner", the caller's key for the app: the same owner
	// always gets the same port back, which is what makes the app durable
	// across calls.
	Owner string
	// PreferredPort mirrors "preferredPort", the port the caller would
	// like, read as JavaScript's Number() reads it; 0 when left out (the
	// backend picks one).
	PreferredPort float64
	// Visibility mirrors "visibility": "" when left out, else "public",
	// or "scoped" for any other value.
	Visibility string
}

// DurableApp reads argument i as ensureDurableApp's input object: owner
// must be a string and preferredPort a number.
func (c *Call) DurableApp(i int) (DurableApp, *Error) {
	m := c.Obj(i)
	var d DurableApp
	owner, ok := m["owner"].(string)
	if !ok {
		return d, ArgError("owner must be a string")
	}
	d.Owner = owner
	if v, has := m["preferredPort"]; has {
		f, ok := Number(v, true)
		if !ok {
			return d, ArgError("preferredPort must be a number")
		}
		d.PreferredPort = f
	}
	if v, has := m["visibility"]; has {
		d.Visibility = visibility(v)
	}
	return d, nil
}

// OwnerArg reads removeDurableApp's input object {owner}.
func (c *Call) OwnerArg(i int) (string, *Error) {
	owner, ok := c.Obj(i)["owner"].(string)
	if !ok {
		return "", ArgError("owner must be a string")
	}
	return owner, nil
}

// visibility maps any value but "public" to "scoped".
func visibility(v any) string {
	if v == "public" {
		return "public"
	}
	return "scoped"
}

// ValidAppName reports whether name can name an app: one lowercase DNS
// label (^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$) without "--" (the preview
// host separator), not all digits (a port) and not 24 hex characters (a
// capability).
func ValidAppName(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	digits, hex := true, len(name) == 24
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case ch >= '0' && ch <= '9':
		case ch >= 'a' && ch <= 'f':
			digits = false
		case ch >= 'g' && ch <= 'z':
			digits, hex = false, false
		case ch == '-':
			if name[i-1] == '-' {
				return false
			}
			digits, hex = false, false
		default:
			return false
		}
	}
	return !digits && !hex
}
