package mcpserver

import (
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
