package sandboxinit

import "os/exec"

// maxSpawning bounds the processes this package starts at once (inits, and
// Direct mode's commands).
//
// exec.Cmd.Start returns once the child has called exec, and waits for
// that in a blocking read of a pipe: a thread of the server's each, which
// the Go runtime replaces, to keep running goroutines, with a new thread
// that it keeps for the life of the process (its g0 and signal stacks,
// 48 KiB, partly touched). A server that starts hundreds of inits at once
// (hundreds of concurrent commands on one sandbox, or after idle inits
// were evicted) made dozens of threads for it: at 256 clients on a busy
// 2-core machine 56-116 threads and a peak RSS of 33.8-34.1 MiB, against
// 37-62 threads and 32.1-32.6 MiB with starts bounded (docs/benchmarks.md).
// Four at once keep both processors of a small machine busy with the
// children's exec; only the start waits: an init's setup and its commands
// run outside the bound (TestStartsBoundedNotSerialised).
const maxSpawning = 4

// spawning holds a token for each start in progress.
var spawning = make(chan struct{}, maxSpawning)

// startCmd is exec.Cmd.Start (tests observe the starts through it).
var startCmd = (*exec.Cmd).Start

// startProcess starts cmd when fewer than maxSpawning other starts are in
// progress.
func startProcess(cmd *exec.Cmd) error {
	spawning <- struct{}{}
	defer func() { <-spawning }()
	return startCmd(cmd)
}
