package localsandbox

// SetSyncFault lets the tests of package localsandbox_test fail the steps
// that make a change durable (see syncFault); the returned func restores
// the real steps.
func SetSyncFault(f func(step string) error) (restore func()) {
	syncFault = f
	return func() { syncFault = nil }
}
