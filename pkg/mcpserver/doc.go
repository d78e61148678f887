// Package mcpserver exposes one Nimbus sandbox to AI agents as a Model
// Context Protocol server, built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk).
//
// The tools are the upstream SDK's agent tool set (box.tools(), spec
// sandbox-api.md §6): exec, runCode, readFile, writeFile, listFiles,
// deleteFile, exists, startProcess, killProcess, signalProcess,
// writeProcessInput, endProcessInput, resizeProcess, logs, exposePort,
// unexposePort, listPorts, exposeApp, listApps, installRuntime and
// listRuntimes, plus listProcesses, and destroy only when the caller allows
// it. Names carry the namespace ("nimbus_exec"). Every tool has a JSON
// Schema for its input and its structured result; arguments are validated
// before anything reaches the sandbox.
//
// What the model sees is bounded: command output and file reads longer than
// the limits are cut with a note saying how much was cut and how to read the
// rest (a truncated command's full output is saved in the sandbox); binary
// file content is returned as an embedded resource, never as inline text.
//
// The package never prints. Every request is reported to an slog.Logger
// (tool, sandbox, duration, exit code or error code), never arguments, file
// contents or credentials.
package mcpserver
