//go:build unix

package testkit

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the child in its own process group so killGroup
// also stops what it spawned (aws-lambda-rie's runtime, node's children).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
