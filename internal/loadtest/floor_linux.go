package loadtest

import (
	"context"
	"os"
	"syscall"
)

// SpawnNSOp is the spawn floor with isolation: fork+exec of /bin/sh -c
// true in new user, mount and PID namespaces (the kernel's part of what a
// sandbox command needs, without mounts or an init). It fails where
// unprivileged user namespaces are not allowed.
func SpawnNSOp() Op {
	uid, gid := os.Getuid(), os.Getgid()
	attr := &os.ProcAttr{Sys: &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
	}}
	return func(ctx context.Context, _ int) error {
		return spawnTrue(attr, "sh -c true in namespaces")
	}
}
