// Package clitest runs `vigil sandbox ...` end to end. The test binary
// doubles as the vigil binary: `vigil sandbox up` starts os.Executable()
// as `manager` and `proxy`, so TestMain runs the CLI when the environment
// says it was started that way.
package clitest

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/internal/cli"
)

const asVigil = "VIGIL_CLITEST_AS_VIGIL"

func TestMain(m *testing.M) {
	if os.Getenv(asVigil) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Setenv(asVigil, "1") // inherited by the roles `sandbox up` starts
	os.Exit(m.Run())
}

// vigil runs the CLI in process and returns its exit code and output.
func vigil(t testing.TB, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	code := cli.Execute(ctx, args, &out, &out)
	return code, out.String()
}

// mustVigil is vigil that fails the test on a non-zero exit.
func mustVigil(t testing.TB, args ...string) string {
	t.Helper()
	code, out := vigil(t, args...)
	if code != 0 {
		t.Fatalf("vigil %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}
