package sandboxserver

import "bytes"

// DecodeEnvelope decodes body as the rpc handler does and returns every
// member as one object, for comparison with DecodeBody.
func DecodeEnvelope(body []byte) (map[string]any, error) {
	var e rpcEnvelope
	if err := readEnvelope(bytes.NewReader(body), int64(len(body)), &e); err != nil {
		return nil, err
	}
	m := map[string]any{}
	for k, v := range e.rest {
		m[k] = v
	}
	for _, k := range []string{"op", "args", "profile", "root", "diag"} {
		if dst, bit := e.slot(k); e.seen&bit != 0 {
			m[k] = *dst
		}
	}
	// The object DecodeBody returns went through finishObject (a
	// "base64" member's text); one the handler reads never is a bytes
	// wire object (readEnvelope refuses those).
	return finishObject(m).(map[string]any), nil
}
