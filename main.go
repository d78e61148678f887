// Command nimbus scaffolds, provisions and drives Nimbus sandboxes.
package main

import (
	"os"

	"github.com/nimbus-sh/nimbus/cmd"
)

func main() {
	os.Exit(cmd.Main())
}
