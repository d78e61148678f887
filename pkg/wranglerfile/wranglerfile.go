// Package wranglerfile reads and edits an existing wrangler.jsonc without
// disturbing its comments or formatting.
package wranglerfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tailscale/hujson"
)

// MaxSize bounds what is read of a wrangler config (with package
// regularfile, which also refuses what is not a regular file): wrangler
// configs are a few KiB, and a wrong path (a disk image, /dev/zero) must
// fail at once instead of filling memory.
const MaxSize = 1 << 20

// Error reports a wrangler.jsonc that cannot be read or edited.
type Error struct {
	// Message says what could not be done with the file.
	Message string
	// Err is the parser's reason, if any.
	Err error
}

// Error returns the message and the parser's reason.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the parser error, if any.
func (e *Error) Unwrap() error { return e.Err }

// R2Bucket is one entry of r2_buckets.
type R2Bucket struct {
	// Binding is the name the Worker reaches the bucket by ("binding").
	Binding string `json:"binding"`
	// BucketName is the R2 bucket's name ("bucket_name").
	BucketName string `json:"bucket_name"`
}

// File is the part of wrangler.jsonc nimbus reads.
type File struct {
	// Name is the Worker name ("name"); empty when the file has none.
	Name string `json:"name"`
	// AccountID is the Cloudflare account id ("account_id"); empty when
	// the file has none.
	AccountID string `json:"account_id"`
	// R2Buckets are the bucket bindings ("r2_buckets"), in file order.
	R2Buckets []R2Bucket `json:"r2_buckets"`
	// Vars are the top-level plain-text variables (non-string values are
	// kept as JSON text).
	Vars map[string]any `json:"vars"`
	// Env is the "env" member as written (the named environments), read
	// only by Environment, so a file whose environments nimbus cannot read
	// still works without --env.
	Env json.RawMessage `json:"env"`
	// LegacyEnv is "legacy_env" as written (nil when unset: wrangler's
	// default, true).
	LegacyEnv any `json:"legacy_env"`
}

// environments decodes Env.
func (f *File) environments() (map[string]*File, error) {
	envs := map[string]*File{}
	if len(f.Env) == 0 || string(f.Env) == "null" {
		return envs, nil
	}
	if err := json.Unmarshal(f.Env, &envs); err != nil {
		return nil, &Error{Message: "env is not an object of environments", Err: err}
	}
	return envs, nil
}

// Environment returns the configuration `wrangler deploy --env name`
// deploys, as wrangler resolves it: the environment's own name, else the
// top-level name with "-<name>" appended; its own account_id, else the
// top-level one (inherited); and only its own r2_buckets and vars, which
// wrangler never inherits. "" is the top level itself. An environment the
// file does not define is an error naming those it does, where wrangler
// would deploy the top level under another name.
func (f *File) Environment(name string) (*File, error) {
	if name == "" {
		return f, nil
	}
	if f.LegacyEnv == false {
		return nil, &Error{Message: "legacy_env is false (service environments): only wrangler's default environments are supported"}
	}
	envs, err := f.environments()
	if err != nil {
		return nil, err
	}
	e := envs[name]
	if e == nil {
		names := slices.Sorted(maps.Keys(envs))
		have := "it defines none"
		if len(names) > 0 {
			have = "it defines " + strings.Join(names, ", ")
		}
		return nil, &Error{Message: fmt.Sprintf("no environment %q under env (%s)", name, have)}
	}
	out := &File{Name: e.Name, AccountID: e.AccountID, R2Buckets: e.R2Buckets, Vars: e.Vars}
	if out.Name == "" && f.Name != "" {
		out.Name = f.Name + "-" + name
	}
	if out.AccountID == "" {
		out.AccountID = f.AccountID
	}
	return out, nil
}

// Var returns a top-level variable that is a string.
func (f *File) Var(name string) (string, bool) {
	v, ok := f.Vars[name].(string)
	return v, ok
}

// Bucket returns the bucket bound as binding, or "".
func (f *File) Bucket(binding string) string {
	for _, b := range f.R2Buckets {
		if b.Binding == binding {
			return b.BucketName
		}
	}
	return ""
}

// Parse reads JSONC (comments and trailing commas allowed).
func Parse(data []byte) (*File, error) {
	_, data = splitBOM(data)
	std, err := hujson.Standardize(slices.Clone(data))
	if err != nil {
		return nil, &Error{Message: "not valid JSONC", Err: err}
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(std))
	if err := dec.Decode(&f); err != nil {
		return nil, &Error{Message: "unexpected structure", Err: err}
	}
	return &f, nil
}

// SetAccountID returns data with the top-level account_id set to id. When the
// file already says so, it returns data unchanged and changed=false. An
// existing member is edited in place; a new one goes next to "name" with the
// file's own indentation, so comments and layout survive.
func SetAccountID(data []byte, id string) (out []byte, changed bool, err error) {
	return keepBOM(data, func(data []byte) ([]byte, bool, error) { return setAccountID(data, id) })
}

// SetEnvAccountID is SetAccountID for environment env ("" is the top
// level): account_id is inherited, so an environment that sets its own has
// it edited there; one that does not gets the top-level member when there
// is none yet, and its own member when the top level names another
// account, which the top level and the other environments keep.
func SetEnvAccountID(data []byte, env, id string) (out []byte, changed bool, err error) {
	if env == "" {
		return SetAccountID(data, id)
	}
	return keepBOM(data, func(data []byte) ([]byte, bool, error) {
		f, err := Parse(data)
		if err != nil {
			return nil, false, err
		}
		e, err := f.Environment(env)
		if err != nil {
			return nil, false, err
		}
		if e.AccountID == id {
			return data, false, nil
		}
		own := true
		if envs, _ := f.environments(); envs[env].AccountID == "" {
			if f.AccountID == "" {
				return setAccountID(data, id)
			}
			// The environment inherits another account: changing the
			// top level would move every environment that inherits it
			// (the top level's own deploy included), so this one gets
			// its own account_id.
			own = false
		}
		root, obj, err := envObject(data, env)
		if err != nil {
			return nil, false, err
		}
		nameIdx := -1
		for i := range obj.Members {
			m := &obj.Members[i]
			lit, ok := m.Name.Value.(hujson.Literal)
			if !ok {
				continue
			}
			switch lit.String() {
			case "account_id":
				m.Value.Value = hujson.String(id)
			case "name":
				nameIdx = i
			}
		}
		if !own {
			insertMember(obj, nameIdx, "account_id", id)
		}
		out := root.Pack()
		g, err := Parse(out)
		if err == nil {
			var ge *File
			if ge, err = g.Environment(env); err == nil && (ge.AccountID != id || g.AccountID != f.AccountID || g.Name != f.Name) {
				err = errors.New("unexpected result")
			}
		}
		if err != nil {
			return nil, false, &Error{Message: "editing env." + env + ".account_id produced an unexpected file", Err: err}
		}
		return out, true, nil
	})
}

// envObject parses data and returns its root and the object of env.<env>.
func envObject(data []byte, env string) (*hujson.Value, *hujson.Object, error) {
	root, err := hujson.Parse(slices.Clone(data))
	if err != nil {
		return nil, nil, &Error{Message: "not valid JSONC", Err: err}
	}
	obj, ok := root.Value.(*hujson.Object)
	if !ok {
		return nil, nil, &Error{Message: "the top level is not an object"}
	}
	for _, key := range []string{"env", env} {
		var next *hujson.Object
		for i := range obj.Members {
			m := &obj.Members[i]
			if lit, ok := m.Name.Value.(hujson.Literal); ok && lit.String() == key {
				next, _ = m.Value.Value.(*hujson.Object)
			}
		}
		if next == nil {
			return nil, nil, &Error{Message: "env." + env + " is not an object"}
		}
		obj = next
	}
	return &root, obj, nil
}

func setAccountID(data []byte, id string) (out []byte, changed bool, err error) {
	f, err := Parse(data)
	if err != nil {
		return nil, false, err
	}
	v, err := hujson.Parse(slices.Clone(data))
	if err != nil {
		return nil, false, &Error{Message: "not valid JSONC", Err: err}
	}
	obj, ok := v.Value.(*hujson.Object)
	if !ok {
		return nil, false, &Error{Message: "the top level is not an object"}
	}
	found := false
	nameIdx := -1
	for i := range obj.Members {
		m := &obj.Members[i]
		lit, ok := m.Name.Value.(hujson.Literal)
		if !ok {
			continue
		}
		switch lit.String() {
		case "account_id":
			found = true
			if cur, ok := m.Value.Value.(hujson.Literal); ok && cur.Kind() == '"' && cur.String() == id {
				continue
			}
			m.Value.Value = hujson.String(id)
			changed = true
		case "name":
			nameIdx = i
		}
	}
	if found && !changed && f.AccountID == id {
		return data, false, nil
	}
	if !found {
		insertMember(obj, nameIdx, "account_id", id)
		changed = true
	}
	out = v.Pack()
	// Check the edit: the result must parse and differ only in account_id.
	g, err := Parse(out)
	if err != nil || g.AccountID != id || g.Name != f.Name || len(g.R2Buckets) != len(f.R2Buckets) {
		return nil, false, &Error{Message: "editing account_id produced an unexpected file", Err: err}
	}
	return out, changed, nil
}

// insertMember adds "key": value after member nameIdx (or before it when it
// is the last member, which avoids touching the closing brace and trailing
// comma; or first when there is no name).
func insertMember(obj *hujson.Object, nameIdx int, key, value string) {
	at := 0
	if nameIdx >= 0 {
		at = nameIdx + 1
		if at >= len(obj.Members) {
			at = nameIdx
		}
	}
	m := hujson.ObjectMember{
		Name:  hujson.Value{Value: hujson.String(key)},
		Value: hujson.Value{BeforeExtra: hujson.Extra(" "), Value: hujson.String(value)},
	}
	if len(obj.Members) == 0 {
		m.Name.BeforeExtra = hujson.Extra("\n  ")
		m.Value.AfterExtra = nil
		obj.Members = append(obj.Members, m)
		if len(obj.AfterExtra) == 0 {
			obj.AfterExtra = hujson.Extra("\n")
		}
		return
	}
	next := &obj.Members[at]
	if ws := next.Value.BeforeExtra; isBlank(ws) {
		m.Value.BeforeExtra = slices.Clone(ws)
	}
	old := next.Name.BeforeExtra
	nl := bytes.IndexByte(old, '\n')
	if nl < 0 {
		// Single-line object: copy the separator as is.
		m.Name.BeforeExtra = slices.Clone(old)
	} else {
		// Keep a comment that trails the previous member on its line, then
		// a newline and the indentation of the following member.
		indent := old[bytes.LastIndexByte(old, '\n')+1:]
		if !isBlank(indent) {
			indent = []byte("  ")
		}
		m.Name.BeforeExtra = hujson.Extra(fmt.Sprintf("%s\n%s", old[:nl], indent))
		rest := slices.Clone(old[nl:])
		if nl > 0 && old[nl-1] == '\r' {
			// CRLF file: the new line ends with the \r kept in old[:nl].
			rest = append([]byte{'\r'}, rest...)
		}
		next.Name.BeforeExtra = rest
	}
	obj.Members = slices.Insert(obj.Members, at, m)
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// SetVar returns data with the top-level vars.<name> set to the string
// value. An existing variable is edited in place; a new one goes first in
// vars (where the config builder puts the catalog pin); a file without vars
// gets a "vars" object after its last member. Comments and layout are kept.
func SetVar(data []byte, name, value string) (out []byte, changed bool, err error) {
	return keepBOM(data, func(data []byte) ([]byte, bool, error) { return setVar(data, "", name, value) })
}

// SetEnvVar is SetVar for environment env ("" is the top level): vars are
// not inherited by wrangler environments, so the variable goes into
// env.<env>.vars, which `wrangler deploy --env` reads, and nowhere else.
func SetEnvVar(data []byte, env, name, value string) (out []byte, changed bool, err error) {
	return keepBOM(data, func(data []byte) ([]byte, bool, error) { return setVar(data, env, name, value) })
}

func setVar(data []byte, env, name, value string) (out []byte, changed bool, err error) {
	top, err := Parse(data)
	if err != nil {
		return nil, false, err
	}
	f, err := top.Environment(env)
	if err != nil {
		return nil, false, err
	}
	if cur, ok := f.Var(name); ok && cur == value {
		return data, false, nil
	}
	prefix := "vars."
	if env != "" {
		prefix = "env." + env + ".vars."
	}
	if v, ok := f.Vars[name]; ok {
		if _, isString := v.(string); !isString {
			return nil, false, &Error{Message: prefix + name + " is not a string"}
		}
	}
	var root hujson.Value
	var obj *hujson.Object
	if env == "" {
		root, err = hujson.Parse(slices.Clone(data))
		if err != nil {
			return nil, false, &Error{Message: "not valid JSONC", Err: err}
		}
		var ok bool
		obj, ok = root.Value.(*hujson.Object)
		if !ok {
			return nil, false, &Error{Message: "the top level is not an object"}
		}
	} else {
		r, o, err := envObject(data, env)
		if err != nil {
			return nil, false, err
		}
		root, obj = *r, o
	}
	var vars *hujson.Object
	for i := range obj.Members {
		m := &obj.Members[i]
		if lit, ok := m.Name.Value.(hujson.Literal); ok && lit.String() == "vars" {
			o, ok := m.Value.Value.(*hujson.Object)
			if !ok {
				return nil, false, &Error{Message: strings.TrimSuffix(prefix, ".") + " is not an object"}
			}
			vars = o
		}
	}
	switch {
	case vars == nil:
		if err := appendVars(obj, name, value); err != nil {
			return nil, false, err
		}
	default:
		done := false
		for i := range vars.Members {
			m := &vars.Members[i]
			if lit, ok := m.Name.Value.(hujson.Literal); ok && lit.String() == name {
				m.Value.Value = hujson.String(value)
				done = true
			}
		}
		if !done {
			insertMember(vars, -1, name, value)
		}
	}
	out = root.Pack()
	gtop, err := Parse(out)
	var g *File
	if err == nil {
		g, err = gtop.Environment(env)
	}
	if err != nil {
		return nil, false, &Error{Message: "editing " + prefix + name + " produced an unexpected file", Err: err}
	}
	if v, _ := g.Var(name); v != value || g.Name != f.Name || g.AccountID != f.AccountID || len(g.R2Buckets) != len(f.R2Buckets) || len(g.Vars) < len(f.Vars) ||
		gtop.Name != top.Name || gtop.AccountID != top.AccountID || len(gtop.R2Buckets) != len(top.R2Buckets) || len(gtop.Vars) != len(top.Vars) && env != "" {
		return nil, false, &Error{Message: "editing " + prefix + name + " produced an unexpected file"}
	}
	return out, true, nil
}

// appendVars adds "vars": {name: value} as the last member of obj, indented
// like the members before it.
func appendVars(obj *hujson.Object, name, value string) error {
	if len(obj.Members) == 0 {
		insertMember(obj, -1, "vars", "")
		v, err := hujson.Parse([]byte(`{ ` + string(hujson.String(name)) + `: ` + string(hujson.String(value)) + ` }`))
		if err != nil {
			return &Error{Message: "cannot build vars", Err: err}
		}
		obj.Members[0].Value.Value = v.Value
		return nil
	}
	last := &obj.Members[len(obj.Members)-1]
	before := last.Name.BeforeExtra
	indent, multiline, eol := "", false, "\n"
	if nl := bytes.LastIndexByte(before, '\n'); nl >= 0 {
		indent, multiline = string(before[nl+1:]), true
		if !isBlank([]byte(indent)) {
			indent = "  "
		}
		if nl > 0 && before[nl-1] == '\r' {
			eol = "\r\n" // a CRLF file gets no bare LF
		}
	}
	text := `{ ` + string(hujson.String(name)) + `: ` + string(hujson.String(value)) + ` }`
	sep := hujson.Extra(" ")
	if multiline {
		text = "{" + eol + indent + "  " + string(hujson.String(name)) + ": " + string(hujson.String(value)) + eol + indent + "}"
		sep = hujson.Extra(eol + indent)
	}
	v, err := hujson.Parse([]byte(text))
	if err != nil {
		return &Error{Message: "cannot build vars", Err: err}
	}
	// A comment at the end of the last member's line (hujson keeps it
	// after the last member, in obj.AfterExtra) describes that member:
	// it stays on that line, in front of the new member, not after it.
	if multiline {
		after := []byte(obj.AfterExtra)
		if nl := bytes.IndexByte(after, '\n'); nl > 0 {
			comment := bytes.TrimRight(after[:nl], "\r")
			if !isBlank(comment) {
				sep = append(hujson.Extra(slices.Clone(comment)), sep...)
				obj.AfterExtra = after[len(comment):]
			}
		}
	}
	m := hujson.ObjectMember{
		Name:  hujson.Value{BeforeExtra: sep, Value: hujson.String("vars")},
		Value: hujson.Value{BeforeExtra: hujson.Extra(" "), Value: v.Value},
	}
	// The trailing comma, if the file has one, moves to the new last member.
	if last.Value.AfterExtra != nil {
		m.Value.AfterExtra = hujson.Extra{}
	}
	obj.Members = append(obj.Members, m)
	return nil
}

// utf8BOM is the byte order mark Windows editors put in front of UTF-8
// files. JSON parsers may ignore it (RFC 8259, 8.1); hujson does not.
var utf8BOM = []byte("\ufeff")

// splitBOM returns a leading byte order mark and the rest of data.
func splitBOM(data []byte) (bom, rest []byte) {
	if bytes.HasPrefix(data, utf8BOM) {
		return data[:len(utf8BOM)], data[len(utf8BOM):]
	}
	return nil, data
}

// keepBOM applies edit to data without its byte order mark and puts the
// mark back in front of the result, so the edit changes nothing else.
func keepBOM(data []byte, edit func([]byte) ([]byte, bool, error)) ([]byte, bool, error) {
	bom, rest := splitBOM(data)
	out, changed, err := edit(rest)
	if err != nil || bom == nil || !changed {
		if err == nil && !changed {
			return data, false, nil
		}
		return out, changed, err
	}
	return append(slices.Clip(bom), out...), true, nil
}
