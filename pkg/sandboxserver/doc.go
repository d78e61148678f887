// Package sandboxserver is the server core of the Nimbus remote sandbox
// API, shared by every Go implementation of its server side (the local
// backend of `nimbus dev` and the fake Worker of the tests): routing of
// POST <base>/sandboxes/<id>/rpc and DELETE /s/<id>[/], the check order
// (method, id rule, auth from the headers, JSON body, op: nothing is read
// for a caller without a token), auth through pkg/token with the cookie
// restricted to same-origin requests, a streaming body decoder, the
// {"ok":…} envelope with its statuses and codes, the bytes wire type,
// argument coercion and exec stream frames.
//
// What a sandbox is and how an op runs is the Backend's business; this
// package only speaks the wire, so that two servers cannot drift apart on
// it.
package sandboxserver
