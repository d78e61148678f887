package localsandbox

import "sync"

// SetSyncFault lets the tests of package localsandbox_test fail the steps
// that make a change durable (see syncFault); the returned func restores
// the real steps.
func SetSyncFault(f func(step string) error) (restore func()) {
	syncFault = f
	return func() { syncFault = nil }
}

// HoldProbeReplyUntilClosing makes the terminal socket's reader answer a
// probe only once the socket is being closed: a reader that had not been
// scheduled yet when the shell exited. The returned func restores it.
func HoldProbeReplyUntilClosing() (restore func()) {
	beforeProbeReply = func(c *termConn) {
		c.t.mu.Lock()
		for !c.closing && !c.gone {
			c.t.cond.Wait()
		}
		c.t.mu.Unlock()
	}
	return func() { beforeProbeReply = nil }
}

// HoldFirstRestart makes the first restart of a process (restart:
// 'on-failure') wait, once its pause is over, until release is called;
// paused is closed when it waits. The returned func restores it.
func HoldFirstRestart() (paused <-chan struct{}, release, restore func()) {
	p, r := make(chan struct{}), make(chan struct{})
	var once sync.Once
	beforeRestart = func() {
		first := false
		once.Do(func() { first = true })
		if first {
			close(p)
			<-r
		}
	}
	var ronce sync.Once
	return p, func() { ronce.Do(func() { close(r) }) }, func() { beforeRestart = nil }
}

// WatchOutputBudget has f told, after every change of the memory for
// buffered output, what is left of it and how many calls wait for it (f
// runs under the budget's lock); the returned func restores.
func WatchOutputBudget(f func(left int64, waiting int)) (restore func()) {
	budgetHook = f
	return func() { budgetHook = nil }
}
