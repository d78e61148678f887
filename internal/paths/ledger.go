package paths

import (
	"os"
	"path/filepath"
	"strconv"
)

// LedgerEnv names the cleanup ledger file (pkg/ledger).
const LedgerEnv = "NIMBUS_LEDGER"

// LedgerFile is the cleanup ledger: NIMBUS_LEDGER, else
// nimbus-ledger.jsonl in RUNNER_TEMP (GitHub Actions empties it after each
// job, so one job's ledger is the job's), else a per-user file in the
// system temporary directory.
func (e Env) LedgerFile() string {
	if p := e.Getenv(LedgerEnv); p != "" {
		return p
	}
	if d := e.Getenv("RUNNER_TEMP"); d != "" {
		return filepath.Join(d, "nimbus-ledger.jsonl")
	}
	tmp := ""
	switch e.GOOS {
	case "windows":
		for _, k := range []string{"TMP", "TEMP", "USERPROFILE"} {
			if tmp = e.Getenv(k); tmp != "" {
				break
			}
		}
		if tmp == "" {
			tmp = e.Getenv("SystemRoot")
		}
	case "plan9":
		tmp = "/tmp"
	default:
		if tmp = e.Getenv("TMPDIR"); tmp == "" {
			tmp = "/tmp"
		}
	}
	name := "nimbus-ledger.jsonl"
	if uid := os.Getuid(); uid >= 0 {
		// /tmp is shared: one file per user.
		name = "nimbus-ledger-" + strconv.Itoa(uid) + ".jsonl"
	}
	return filepath.Join(tmp, name)
}
