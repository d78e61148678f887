package mcpserver

import (
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

func TestIDScan(t *testing.T) {
	num, _ := jsonrpc.MakeID(float64(3))
	str, _ := jsonrpc.MakeID("a}b")
	for _, tc := range []struct {
		msg     string
		want    jsonrpc.ID
		request bool
	}{
		{`{"jsonrpc":"2.0","id":3,"method":"x"}`, num, true},
		{` {"method":"x","params":{"id":9,"s":"}\"{"},"id":3}`, num, true},
		{`{"id":"a}b","method":"x","params":[1,{"id":2}]}`, str, true},
		{`{"\u0069d":3,"method":"x"}`, num, true},
		{`{"params":{"s":"\\\"id\":9\\"},"id":3,"method":"x"}`, num, true},
		{`{"id":3,"result":{}}`, num, false},                      // a response
		{`{"method":"x","params":{"id":3}}`, jsonrpc.ID{}, false}, // a notification
		{`{"ID":3,"method":"x"}`, jsonrpc.ID{}, false},            // keys match exactly
		{`{"id":null,"method":"x"}`, jsonrpc.ID{}, false},
		{`{"id":true,"method":"x"}`, jsonrpc.ID{}, false},
		{`[{"id":3,"method":"x"}]`, jsonrpc.ID{}, false},
		{`not json`, jsonrpc.ID{}, false},
	} {
		// Whole, and byte by byte: a message arrives in pieces of any
		// size.
		var whole, bytewise idScan
		whole.feed([]byte(tc.msg))
		for i := range len(tc.msg) {
			bytewise.feed([]byte{tc.msg[i]})
		}
		for _, s := range []*idScan{&whole, &bytewise} {
			id, ok := s.request()
			if ok != tc.request || ok && id != tc.want {
				t.Errorf("%s: request %v %v, want %v %v", tc.msg, id, ok, tc.want, tc.request)
			}
			if !tc.request && tc.want.IsValid() {
				if id, ok := s.id(); !ok || id != tc.want {
					t.Errorf("%s: id %v %v", tc.msg, id, ok)
				}
			}
		}
	}
}

// FuzzIDScan checks idScan against the SDK's own decoding: on a message
// the SDK reads, the scan finds the same request id (a wrong one would be
// waited for in vain at the end of the input, or answered twice),
// whatever pieces the message comes in. Where a message ends is the
// framer's to find (FuzzFramer).
func FuzzIDScan(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":3,"method":"x"}`,
		`{"jsonrpc":"2.0","method":"x","params":{"id":9,"s":"}\"{"},"id":"a}b"}`,
		`{"jsonrpc":"2.0","\u0069d":3,"method":"x"}`,
		`{"jsonrpc":"2.0","id":3,"result":{}}`,
		`{"jsonrpc":"2.0","id":null,"method":"x"}`,
		`{"jsonrpc":"2.0","id":1,"id":2,"method":"x","method":null}`,
		`{"jsonrpc":"2.0","id":1.5e3,"method":"x","params":[[[{"id":2}]]]}`,
		`{"jsonrpc":"2.0","method":"x","params":{"a":`,
	} {
		f.Add([]byte(s), uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		var whole, pieces idScan
		whole.feed(data)
		k := int(cut) % (len(data) + 1)
		pieces.feed(data[:k])
		pieces.feed(data[k:])
		wid, wok := whole.request()
		pid, pok := pieces.request()
		if wok != pok || wid != pid || whole.method != pieces.method {
			t.Fatalf("in one piece: %v %v; cut at %d: %v %v", wid, wok, k, pid, pok)
		}
		msg, err := jsonrpc.DecodeMessage(data)
		if err != nil || !json.Valid(data) || whole.idLong {
			return
		}
		req, isReq := msg.(*jsonrpc.Request)
		if want := isReq && req.ID.IsValid(); wok != want || want && wid != req.ID {
			t.Fatalf("scan: request %v %v; SDK: %#v", wid, wok, msg)
		}
	})
}
