package cmd_test

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// watchProcs appends this process's GOMAXPROCS to the file at path, once
// at the start and again at each change it sees (it looks every
// millisecond), so that a test can follow what `nimbus dev` does with it.
// A test-binary hook (NIMBUS_TEST_PROCS); a release build has none.
func watchProcs(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		panic(err)
	}
	go func() {
		last := 0
		for {
			if n := runtime.GOMAXPROCS(0); n != last {
				fmt.Fprintf(f, "%d\n", n)
				last = n
			}
			time.Sleep(time.Millisecond)
		}
	}()
}
