//go:build !linux

package localsandbox_test

// maybeServeChild serves a child backend only on Linux, where the tests
// that need the host to deny the backend something can arrange it
// (hostdenied_linux_test.go); elsewhere TestMain still calls it.
func maybeServeChild() {}

// maybeLimitInitFDs starves an init of descriptors only on Linux
// (initsetup_linux_test.go).
func maybeLimitInitFDs() {}

// maybeKillInit ends an init before it sets up only on Linux
// (initdeath_linux_test.go).
func maybeKillInit() {}

// maybeKillInitAtRun ends an init as it is handed a command only on
// Linux (initrundeath_linux_test.go).
func maybeKillInitAtRun() {}
