package provision

import (
	"io/fs"

	"github.com/nimbus-sh/nimbus/internal/atomicfile"
)

// writeFileAtomic replaces path atomically, through a symlink when it is
// one (atomicfile.WriteFile); runtimesync's pin writer uses the same.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return atomicfile.WriteFile(path, data, perm)
}

func writeError(path string, err error) *Error {
	return &Error{Kind: KindCantCreate, Code: CodeWriteFile, Message: "cannot write " + path, Err: err,
		Hint: "check that the directory exists and is writable"}
}
