package mcpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type pathInput struct {
	Path string `json:"path" jsonschema:"absolute path, or relative to the sandbox root"`
}

type readFileInput struct {
	Path   string `json:"path" jsonschema:"absolute path, or relative to the sandbox root"`
	Offset int64  `json:"offset,omitempty" jsonschema:"first byte to read (default 0)"`
	Length int64  `json:"length,omitempty" jsonschema:"how many bytes to read at most"`
}

// ReadFileOutput is readFile's structured result. Text is inline in
// Content; binary data comes as an embedded resource instead.
type ReadFileOutput struct {
	// Path is the absolute sandbox path that was read.
	Path string `json:"path" jsonschema:"the absolute path read"`
	// Size is the whole file's size in bytes, not the part returned.
	Size int64 `json:"size" jsonschema:"the file's size in bytes"`
	// Offset is the position in bytes of the first byte returned: the
	// offset asked, or for text up to 3 bytes further when that offset
	// is inside a UTF-8 character (Note then says so).
	Offset int64 `json:"offset" jsonschema:"first byte returned (for text, the start of the first whole character at or after the offset asked)"`
	// Length is how many bytes were returned; 0 when Offset is at or past
	// the end. Text is cut to whole characters, so it can be a little
	// shorter than the length asked, or longer when that was shorter than
	// the one character at Offset.
	Length int64 `json:"length" jsonschema:"number of bytes returned"`
	// Binary reports data that is not UTF-8 text: it comes as an embedded
	// resource with MimeType, and Content is empty.
	Binary bool `json:"binary" jsonschema:"the data is not UTF-8 text; it is returned as an embedded resource, not in content"`
	// MimeType is the media type guessed from the name, then the data;
	// text the guess calls application/octet-stream is reported as
	// "text/plain; charset=utf-8".
	MimeType string `json:"mimeType" jsonschema:"media type guessed from the name and the data"`
	// Content is the text read; empty for binary data.
	Content string `json:"content,omitempty" jsonschema:"the text read (text files only)"`
	// Truncated reports that the file continues after the returned part.
	Truncated bool `json:"truncated" jsonschema:"the file continues after the returned part"`
	// NextOffset is the Offset that reads on; nil when the file ended.
	NextOffset *int64 `json:"nextOffset,omitempty" jsonschema:"offset of the next part, when truncated"`
	// Note tells the model, in words, how to read the rest, or that Offset
	// was past the end; empty otherwise.
	Note string `json:"note,omitempty" jsonschema:"how to read the rest"`
}

type writeFileInput struct {
	Path    string  `json:"path" jsonschema:"absolute path, or relative to the sandbox root; missing parent directories are created"`
	Content *string `json:"content,omitempty" jsonschema:"the new content as UTF-8 text"`
	Data    *string `json:"data,omitempty" jsonschema:"the new content as base64 (binary files); give content or data, not both"`
}

// WriteFileOutput is writeFile's result.
type WriteFileOutput struct {
	// Path is the absolute sandbox path written.
	Path string `json:"path" jsonschema:"the absolute path written"`
	// Bytes is the number of bytes written.
	Bytes int64 `json:"bytes" jsonschema:"the number of bytes written"`
}

type listFilesInput struct {
	Path string `json:"path,omitempty" jsonschema:"directory to list (default: the sandbox root)"`
}

// Entry is one directory entry.
type Entry struct {
	// Name is the entry's base name.
	Name string `json:"name"`
	// Type is "file", "directory", "symlink" or another file type, as the
	// sandbox reports it.
	Type string `json:"type" jsonschema:"file, directory, symlink or another file type"`
}

// ListFilesOutput is listFiles's result.
type ListFilesOutput struct {
	// Path is the absolute sandbox directory listed.
	Path string `json:"path" jsonschema:"the absolute path listed"`
	// Entries are the directory's entries in the sandbox's order, at most
	// MaxEntries of them.
	Entries []Entry `json:"entries"`
	// Count is how many entries the directory has, including any left out
	// of Entries.
	Count int `json:"count" jsonschema:"the number of entries in the directory"`
	// Truncated reports that Entries holds only the first MaxEntries.
	Truncated bool `json:"truncated" jsonschema:"only the first entries are listed"`
	// Note tells the model how to list the rest when Truncated; empty
	// otherwise.
	Note string `json:"note,omitempty"`
}

type deleteFileInput struct {
	Path      string `json:"path" jsonschema:"absolute path, or relative to the sandbox root"`
	Recursive bool   `json:"recursive,omitempty" jsonschema:"delete a directory with everything in it"`
}

// DeleteFileOutput is deleteFile's result; a missing path is not an error.
type DeleteFileOutput struct {
	// Path is the absolute sandbox path deleted.
	Path string `json:"path"`
	// OK is true on success, including when the path did not exist: a
	// failure is a tool error, never OK false.
	OK bool `json:"ok"`
}

// ExistsOutput is exists's result.
type ExistsOutput struct {
	// Path is the absolute sandbox path checked.
	Path string `json:"path"`
	// Exists reports whether anything (file, directory or symlink) is at
	// Path.
	Exists bool `json:"exists"`
}

func (s *Server) registerFiles() {
	addTool(s, toolSpec{
		name: "readFile", title: "Read a file", read: true,
		desc: fmt.Sprintf("Read a file of the sandbox. Text comes back in content (at most %s per call unless length says otherwise, up to %s); "+
			"use offset and length to read a large file in parts: the result gives nextOffset. "+
			"Binary files come back as an embedded resource with their media type, never as inline text.", byteCount(int64(s.o.MaxRead)), byteCount(MaxRead)),
		schema: func(js *jsonschema.Schema) {
			nonEmpty(js, "path")
			nonNegative(js, "offset")
			positive(js, "length")
			js.Properties["length"].Maximum = jsonschema.Ptr(float64(MaxRead))
		},
	}, s.readFile)
	addTool(s, toolSpec{
		name: "writeFile", title: "Write a file", idempotent: true, destructive: true,
		desc: "Create or replace a file in the sandbox with text (content) or base64 data (data). Missing parent directories are created.",
		schema: func(js *jsonschema.Schema) {
			nonEmpty(js, "path")
			if ps := js.Properties["data"]; ps != nil {
				ps.ContentEncoding = "base64"
			}
		},
	}, s.writeFile)
	addTool(s, toolSpec{
		name: "listFiles", title: "List a directory", read: true,
		desc: fmt.Sprintf("List the entries of a sandbox directory (default: the sandbox root) with their types; at most %d entries.", MaxEntries),
	}, s.listFiles)
	addTool(s, toolSpec{
		name: "deleteFile", title: "Delete a file or directory", idempotent: true, destructive: true,
		desc:   "Delete a file, or a directory (recursive: true for a non-empty one). Deleting a missing path is not an error.",
		schema: func(js *jsonschema.Schema) { nonEmpty(js, "path") },
	}, s.deleteFile)
	addTool(s, toolSpec{
		name: "exists", title: "Check that a path exists", read: true,
		desc:   "Tell whether a file or directory exists in the sandbox.",
		schema: func(js *jsonschema.Schema) { nonEmpty(js, "path") },
	}, s.exists)
}

// filePath resolves a file tool's path against the sandbox root. A path
// of white space only is refused, as the CLI refuses one: the schema only
// asks for a non-empty string, and " " would reach the sandbox as a file
// named " " next to the root's files, never what the model meant.
func (s *Server) filePath(p string) (string, error) {
	if err := blank("path", p, `give the file's path, absolute or relative to the sandbox root ("." is the root itself)`); err != nil {
		return "", err
	}
	return s.resolve(p), nil
}

// blank refuses a path argument (field names it) of white space only,
// with hint: it passes a schema that asks only for a string, and would
// reach the sandbox as a name made of white space.
func blank(field, p, hint string) error {
	if strings.TrimSpace(p) == "" {
		return &ToolError{Code: CodeInvalidInput, Message: fmt.Sprintf("%s %q is blank", field, p), Hint: hint}
	}
	return nil
}

// checkCwd refuses a cwd (exec, runCode, startProcess) of white space
// only, as filePath refuses such a path; an absent one ("") is the
// sandbox's default directory.
func checkCwd(cwd string) error {
	if cwd == "" {
		return nil
	}
	return blank("cwd", cwd, `omit cwd for the default directory, or give a directory, absolute or relative to the sandbox root ("." is the root itself)`)
}

// fileURI names a sandbox file as a resource of this server.
func (s *Server) fileURI(p string) string {
	return "nimbus://" + s.sb.ID() + (&urlPath{p}).escaped()
}

type urlPath struct{ p string }

// escaped percent-encodes what a URI path cannot hold, keeping "/".
func (u *urlPath) escaped() string {
	var b strings.Builder
	for i := 0; i < len(u.p); i++ {
		c := u.p[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/-._~!$&'()*+,;=:@", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// mimeType guesses the media type from the extension, then the data.
func mimeType(name string, data []byte) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return http.DetectContentType(data)
}

// isBinary tells text from binary: NUL bytes or invalid UTF-8 (a rune cut
// at the end of a partial read does not count).
func isBinary(data []byte, partial bool) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return true
	}
	if partial {
		data = trimPartialRuneEnd(data)
	}
	return !utf8.Valid(data)
}

func (s *Server) readFile(ctx context.Context, in readFileInput) (*mcp.CallToolResult, ReadFileOutput, error) {
	p, err := s.filePath(in.Path)
	if err != nil {
		return nil, ReadFileOutput{}, err
	}
	st, err := s.sb.Stat(ctx, p)
	if err != nil {
		return nil, ReadFileOutput{}, err
	}
	if st == nil {
		return nil, ReadFileOutput{}, &ToolError{Code: CodeNotFound, Message: "no such file: " + p, Hint: "check the path with " + s.name("listFiles") + " or " + s.name("exists")}
	}
	if st.Type == "directory" {
		return nil, ReadFileOutput{}, &ToolError{Code: CodeIsDirectory, Message: p + " is a directory", Hint: "list it with " + s.name("listFiles")}
	}
	out := ReadFileOutput{Path: p, Size: st.Size, Offset: in.Offset}
	if in.Offset >= st.Size {
		out.MimeType = mimeType(p, nil)
		if in.Offset > 0 {
			out.Note = fmt.Sprintf("offset %d is at or past the end of the file (%d bytes)", in.Offset, st.Size)
		}
		return nil, out, nil
	}
	// One read serves both cases: text is cut to its own limit afterwards,
	// binary data may use the whole MaxRead. A few bytes more are read so
	// that a text window that starts inside a character (an offset the
	// model chose) or is shorter than one still returns a whole character.
	want := int64(MaxRead)
	if in.Length > 0 {
		want = in.Length
	}
	want = min(want, st.Size-in.Offset)
	n := min(want+2*utf8.UTFMax, st.Size-in.Offset)
	var data []byte
	var found bool
	if in.Offset == 0 && n == st.Size {
		data, found, err = s.sb.ReadFileBytes(ctx, p)
	} else {
		data, found, err = s.sb.ReadRange(ctx, p, in.Offset, n)
	}
	if err != nil {
		return nil, ReadFileOutput{}, err
	}
	if !found {
		return nil, ReadFileOutput{}, &ToolError{Code: CodeNotFound, Message: "no such file: " + p + " (it was removed while being read)"}
	}
	size := max(st.Size, in.Offset+int64(len(data)))
	partial := in.Offset+int64(len(data)) < size
	text := data
	if in.Offset > 0 {
		text = trimPartialRuneStart(data)
	}
	out.MimeType = mimeType(p, data)
	if isBinary(text, partial) {
		out.Binary = true
		data = data[:min(int64(len(data)), want)]
	} else {
		out.Offset += int64(len(data) - len(text))
		limit := int64(s.o.MaxRead)
		if in.Length > 0 {
			limit = in.Length
		}
		whole := text
		if int64(len(text)) > limit {
			text = trimPartialRuneEnd(text[:limit])
		} else if partial {
			text = trimPartialRuneEnd(text)
		}
		if len(text) == 0 && len(whole) > 0 {
			// length is shorter than the character at offset: return
			// that character, or following nextOffset would never end.
			_, w := utf8.DecodeRune(whole)
			text = whole[:w]
		}
		data = text
		out.Content = string(data)
		if strings.HasPrefix(out.MimeType, "application/octet-stream") {
			out.MimeType = "text/plain; charset=utf-8"
		}
	}
	out.Length = int64(len(data))
	if end := out.Offset + out.Length; end < size {
		out.Truncated = true
		out.NextOffset = &end
		out.Note = fmt.Sprintf("returned bytes %d-%d of %d; call %s with offset %d to read on", out.Offset, end, size, s.name("readFile"), end)
	}
	if out.Offset != in.Offset {
		skipped := fmt.Sprintf("offset %d is inside a character: the text starts at the next one, offset %d", in.Offset, out.Offset)
		out.Note = strings.TrimPrefix(out.Note+"; "+skipped, "; ")
	}
	if !out.Binary {
		return nil, out, nil
	}
	summary := fmt.Sprintf("%s: %s of binary data (%s), bytes %d-%d of %d, returned as an embedded resource.", p, byteCount(out.Length), out.MimeType, in.Offset, in.Offset+out.Length, size)
	if out.Note != "" {
		summary += " " + out.Note + "."
	}
	res := &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.TextContent{Text: summary},
		&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: s.fileURI(p), MIMEType: out.MimeType, Blob: data}},
	}}
	return res, out, nil
}

func (s *Server) writeFile(ctx context.Context, in writeFileInput) (*mcp.CallToolResult, WriteFileOutput, error) {
	if (in.Content == nil) == (in.Data == nil) {
		return nil, WriteFileOutput{}, inputError("give exactly one of content (text) and data (base64)")
	}
	p, err := s.filePath(in.Path)
	if err != nil {
		return nil, WriteFileOutput{}, err
	}
	if p == "/" {
		return nil, WriteFileOutput{}, &ToolError{Code: CodeIsDirectory, Message: "/ is a directory"}
	}
	var data []byte
	if in.Content != nil {
		data = []byte(*in.Content)
	} else {
		d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*in.Data))
		if err != nil {
			return nil, WriteFileOutput{}, inputError("data is not valid base64: " + err.Error())
		}
		data = d
	}
	if err := s.sb.Mkdir(ctx, path.Dir(p)); err != nil {
		return nil, WriteFileOutput{}, err
	}
	if err := s.sb.WriteFile(ctx, p, data); err != nil {
		return nil, WriteFileOutput{}, err
	}
	return nil, WriteFileOutput{Path: p, Bytes: int64(len(data))}, nil
}

func (s *Server) listFiles(ctx context.Context, in listFilesInput) (*mcp.CallToolResult, ListFilesOutput, error) {
	p := s.sb.Root()
	if in.Path != "" {
		var err error
		if p, err = s.filePath(in.Path); err != nil {
			return nil, ListFilesOutput{}, err
		}
	}
	ents, err := s.sb.ReadDir(ctx, p)
	if err != nil {
		return nil, ListFilesOutput{}, err
	}
	out := ListFilesOutput{Path: p, Count: len(ents), Entries: make([]Entry, 0, min(len(ents), MaxEntries))}
	for i, e := range ents {
		if i == MaxEntries {
			out.Truncated = true
			out.Note = fmt.Sprintf("only the first %d of %d entries are listed; use %s with find or ls on a narrower path", MaxEntries, len(ents), s.name("exec"))
			break
		}
		out.Entries = append(out.Entries, Entry{Name: e.Name, Type: e.Type})
	}
	return nil, out, nil
}

func (s *Server) deleteFile(ctx context.Context, in deleteFileInput) (*mcp.CallToolResult, DeleteFileOutput, error) {
	p, err := s.filePath(in.Path)
	if err != nil {
		return nil, DeleteFileOutput{}, err
	}
	if err := s.sb.DeleteFile(ctx, p, in.Recursive); err != nil {
		return nil, DeleteFileOutput{}, err
	}
	return nil, DeleteFileOutput{Path: p, OK: true}, nil
}

func (s *Server) exists(ctx context.Context, in pathInput) (*mcp.CallToolResult, ExistsOutput, error) {
	p, err := s.filePath(in.Path)
	if err != nil {
		return nil, ExistsOutput{}, err
	}
	ok, err := s.sb.Exists(ctx, p)
	if err != nil {
		return nil, ExistsOutput{}, err
	}
	return nil, ExistsOutput{Path: p, Exists: ok}, nil
}
