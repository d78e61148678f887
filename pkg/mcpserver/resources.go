package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MaxResource is the largest file resources/read returns in one piece;
// larger files are read in parts with readFile.
const MaxResource = 8 << 20

// registerResources adds the sandbox's descriptor (nimbus://<id>) and its
// files (nimbus://<id>/<path>), so clients can attach a file to a prompt
// and re-read the binary data readFile returned as a resource.
func (s *Server) registerResources() {
	base := "nimbus://" + s.sb.ID()
	s.mcp.AddResource(&mcp.Resource{
		URI: base, Name: "sandbox", Title: "Nimbus sandbox " + s.sb.ID(), MIMEType: "application/json",
		Description: "The sandbox this server acts on: id, tool names, read-only mode and capabilities.",
	}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		b, err := json.MarshalIndent(s.desc, "", "  ")
		if err != nil {
			return nil, err
		}
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: base, MIMEType: "application/json", Text: string(b)}}}, nil
	})
	s.mcp.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: base + "{+path}", Name: "file", Title: "Sandbox file",
		Description: fmt.Sprintf("A file of the sandbox by absolute path, e.g. %s/home/user/README.md (at most %s).", base, byteCount(MaxResource)),
	}, s.readResource)
}

func (s *Server) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	prefix := "nimbus://" + s.sb.ID()
	rest, ok := strings.CutPrefix(uri, prefix)
	if !ok || !strings.HasPrefix(rest, "/") {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	p = s.resolve(p)
	st, err := s.sb.Stat(ctx, p)
	if err != nil {
		te := toolError(err)
		infoOf(ctx).code = te.Code
		return nil, te
	}
	if st == nil || st.Type == "directory" {
		infoOf(ctx).code = CodeNotFound
		return nil, mcp.ResourceNotFoundError(uri)
	}
	if st.Size > MaxResource {
		infoOf(ctx).code = CodeTooLarge
		return nil, &ToolError{Code: CodeTooLarge, Message: fmt.Sprintf("%s is %s, more than a resource read returns (%s)", p, byteCount(st.Size), byteCount(MaxResource)),
			Hint: "read it in parts with " + s.name("readFile") + " (offset and length)"}
	}
	data, found, err := s.sb.ReadFileBytes(ctx, p)
	if err != nil {
		te := toolError(err)
		infoOf(ctx).code = te.Code
		return nil, te
	}
	if !found {
		infoOf(ctx).code = CodeNotFound
		return nil, mcp.ResourceNotFoundError(uri)
	}
	rc := &mcp.ResourceContents{URI: uri, MIMEType: mimeType(p, data)}
	if isBinary(data, false) {
		rc.Blob = data
	} else {
		rc.Text = string(data)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{rc}}, nil
}
