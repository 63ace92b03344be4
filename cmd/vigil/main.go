// Command vigil makes a MySQL/MariaDB database highly available: proxy,
// manager, virtual IP, deploy and a local sandbox, in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"vigil/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
