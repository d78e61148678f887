// Package pipehup tells whether the reader of a pipe or socket has gone,
// from the writing end and without writing: a server whose client was
// killed, a process that closed its input. A write would tell too, but
// only once there is something to write, and a full pipe blocks it.
package pipehup
