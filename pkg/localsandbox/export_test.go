package localsandbox

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

// WatchOutputBudget has f told, after every change of the memory for
// buffered output, what is left of it and how many calls wait for it (f
// runs under the budget's lock); the returned func restores.
func WatchOutputBudget(f func(left int64, waiting int)) (restore func()) {
	budgetHook = f
	return func() { budgetHook = nil }
}
