// Package terminal attaches to the terminal of a Nimbus session: the
// WebSocket /s/<id>/ws of a Worker or of `nimbus dev` (terminal-ws.md).
// Attach carries keystrokes from an io.Reader to the remote shell and its
// output to an io.Writer, unchanged, until the user detaches, the session
// ends or the connection cannot be restored.
//
// It does what a terminal client of this protocol needs and a caller
// should not have to: a Bearer token per dial (so expired tokens are
// re-minted on reconnect), window sizes, keepalive pings and a liveness
// probe for sockets that die silently, reconnection with backoff that
// shows the server's scrollback replay once instead of twice, the 409 of
// a session another terminal holds (optionally waited out), the close
// codes that end a session (1000) or hand it to someone else (1001), an
// ssh-style detach sequence, UTF-8 characters split across reads, and the
// process terminals that full-screen programs get on a Worker.
//
// The package never prints and reads no global state: the caller puts
// its terminal in raw mode, delivers window-change notifications and
// renders the Events and errors.
package terminal
