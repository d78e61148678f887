package loadtest

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis; utime 150, stime 50.
	raw := []byte("4242 (nimbus (dev) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 150 50 0 0 20 0 9 0 123 0 0\n")
	got, err := parseStatCPU(raw)
	if err != nil || got != 2*time.Second {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("short stat accepted")
	}
	self, err := ProcCPU(os.Getpid())
	if err != nil || self < 0 {
		t.Fatalf("%v %v", self, err)
	}
}
