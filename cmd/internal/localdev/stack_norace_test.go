//go:build unix && !race

package localdev_test

// raceStack is 1 without -race: the limit is the release build's.
const raceStack = 1
