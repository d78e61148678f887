//go:build unix && race

package localdev_test

// raceStack multiplies requestStack in a -race build, whose instrumented
// frames are not the release binary's: 8 KiB overflows in the client's
// dial there (runtime.checkptrBase under net.(*netFD).connect), before
// the server is reached.
const raceStack = 2
