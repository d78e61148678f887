// Package jsjson reads and writes JSON the way JavaScript's JSON.parse and
// JSON.stringify do, which encoding/json does not: object keys keep their
// order (a duplicate key keeps its first position and its last value), strings
// are escaped minimally (no HTML escaping, U+2028/U+2029 raw, lowercase \u00xx),
// numbers are float64 printed like Number#toString, and invalid UTF-8 is
// decoded like TextDecoder. nimbus needs this to produce bytes identical to
// the upstream TypeScript implementation.
package jsjson
