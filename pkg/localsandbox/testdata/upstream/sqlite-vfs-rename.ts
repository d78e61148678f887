// Excerpt of github.com/AshishKumar4/Nimbus packages/worker/src/vfs/sqlite-vfs.ts
// at commit 005b1fdd45d652313c73fc412c3dd08c308fa02c (lines 1171-1205):
// the Worker VFS's rename, whose refusals TestRenameOntoADirectoryIsTheWorkers expects.
  rename(oldPath: string, newPath: string): void {
    // Flush pending writes for old path first to avoid orphans
    this.cacheInvalidate(oldPath, false); // flush dirty, not discard
    this.flushPendingWrites(); // synchronously flush so SQL paths are current
    this.clearPendingWritesForPath(oldPath);

    const newPp = this.parentPath(newPath);
    const oldPp = this.parentPath(oldPath);

    // Update inode
    const inode = this.inodes.get(oldPath);
    if (!inode) throw new Error("ENOENT: " + oldPath);

    // W-3 (WASI Wave-2): if newPath already exists, unlink it first so the
    // SQL UPDATE doesn't conflict on inodes.path uniqueness. POSIX rename(2)
    // overwrites the destination atomically; clang's atomic-write pattern
    // (write tmp + rename → final) depends on this. Without this branch,
    // a 2nd `make` after a prior successful build throws on UPDATE
    // failure. Pre-unlink covers both file-over-file and file-over-dir
    // (the latter is rare but POSIX permits it for empty dirs).
    const destInode = this.inodes.get(newPath);
    if (destInode) {
      if (destInode.isDir) {
        // POSIX semantics: rename onto a non-empty dir is an error
        // (ENOTEMPTY); rename onto an empty dir is allowed. We surface
        // both as a thrown error since the WASI shim treats every
        // unexpected exception as ENOSYS → caller diagnostics.
        // Conservative: refuse dir overwrite entirely; the WASI fixture
        // we care about (file → file) is the high-value case.
        if (inode.isDir) {
          throw new Error("ENOTDIR-or-EISDIR: rename onto existing dir not supported");
        }
        throw new Error("EISDIR: cannot rename file onto existing directory");
      }
      // Existing file at newPath — unlink it (drops chunks + inode row).
