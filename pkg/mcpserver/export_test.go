package mcpserver

// SetTestPanic makes every tool handler call f with the tool's name first,
// until the test ends.
func SetTestPanic(t interface{ Cleanup(func()) }, f func(tool string)) {
	testPanic = f
	t.Cleanup(func() { testPanic = nil })
}
