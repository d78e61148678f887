package reqlog

import (
	"testing"
	"time"
)

type testFault struct{ name string }

func TestFaultsMatchInOrderAndGetUsedUp(t *testing.T) {
	var l Log[string, testFault]
	l.AddFault("PUT", "/objects/a", 2, testFault{"twice"})
	l.AddFault("", "/a", 0, testFault{"always"})
	want := []struct {
		method, path string
		fault        string
	}{
		{"GET", "/x/objects/a", "always"}, // the first fault is for PUT only
		{"PUT", "/x/objects/a", "twice"},
		{"PUT", "/x/objects/a", "twice"},
		{"PUT", "/x/objects/a", "always"}, // used up: the next one matches
		{"GET", "/x/objects/b", ""},
	}
	for _, w := range want {
		f, ok := l.Record(w.method, w.path, w.method+" "+w.path)
		if ok != (w.fault != "") || f.name != w.fault {
			t.Fatalf("%s %s: fault %q, %v; want %q", w.method, w.path, f.name, ok, w.fault)
		}
	}
	if got := l.Requests(); len(got) != len(want) || got[0] != "GET /x/objects/a" {
		t.Fatalf("requests %q", got)
	}
	if got, wantSum := l.Summary(), "GET /x/objects/a\nPUT /x/objects/a\nPUT /x/objects/a\nPUT /x/objects/a\nGET /x/objects/b\n"; got != wantSum {
		t.Fatalf("summary %q, want %q", got, wantSum)
	}
	l.Reset()
	if got := l.Requests(); len(got) != 0 {
		t.Fatalf("after Reset: %q", got)
	}
}

func TestWait(t *testing.T) {
	var l Log[int, testFault]
	done := make(chan bool)
	go func() { done <- l.Wait("POST", "/tokens/verify", time.Minute) }()
	l.Record("GET", "/tokens/verify", 1)
	l.Record("POST", "/user/tokens/verify", 2)
	if !<-done {
		t.Fatal("Wait did not see the POST")
	}
	if l.Wait("DELETE", "/x", time.Millisecond) {
		t.Fatal("Wait reported a request that never came")
	}
}
