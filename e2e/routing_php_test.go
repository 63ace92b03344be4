package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/internal/config"
)

// rtPHPReport is what e2e/php/moodle_like.php prints.
type rtPHPReport struct {
	Ops         map[string]int `json:"ops"`
	Errors      []string       `json:"errors"`
	Stale       []string       `json:"stale"`
	Connections int            `json:"connections"`
}

// TestRoutingMoodleLikePHP runs a PHP mysqli client that behaves like
// Moodle through the proxy while the replicas are made to lag and to stop
// applying: it must see zero errors and zero stale reads, and replicas must
// still have served reads.
func TestRoutingMoodleLikePHP(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("php-cli is required (scripts/deps installs it): %v", err)
	}
	h := newRoutingHarness(t, func(c *config.Config) {
		c.Routing.CausalReads = "global" // reads after a redirect see the write
	})
	const secs = 8
	host, port, _ := strings.Cut(h.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, php, "php/moodle_like.php")
	cmd.Env = append(cmd.Environ(), "VIGIL_HOST="+host, "VIGIL_PORT="+port, "VIGIL_USER="+h.c.App().User,
		"VIGIL_PASS="+h.c.App().Password, "VIGIL_DB="+h.c.Database(), "VIGIL_SECONDS="+strconv.Itoa(secs))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Disturb the replicas while the client runs: stop the SQL threads one
	// after the other, restart them, then make both lag with running SQL
	// threads (a global read lock blocks the applier).
	begin := time.Now()
	at := func(d time.Duration) { time.Sleep(time.Until(begin.Add(d))) }
	at(1500 * time.Millisecond)
	h.admin("db2", "STOP SLAVE SQL_THREAD")
	at(3 * time.Second)
	h.admin("db3", "STOP SLAVE SQL_THREAD")
	at(4500 * time.Millisecond)
	h.admin("db2", "START SLAVE SQL_THREAD")
	h.admin("db3", "START SLAVE SQL_THREAD")
	at(5500 * time.Millisecond)
	unlock := h.lockReplicas(t)
	at(7 * time.Second)
	unlock()

	werr := cmd.Wait()
	var rep rtPHPReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("php output is not a report (%v, exit %v):\n%s\n%s", err, werr, stdout.String(), stderr.String())
	}
	t.Logf("php: ops %v, %d connections", rep.Ops, rep.Connections)
	for _, e := range rep.Errors {
		t.Errorf("php error: %s", e)
	}
	for _, s := range rep.Stale {
		t.Errorf("php stale read: %s", s)
	}
	if werr != nil && len(rep.Errors)+len(rep.Stale) == 0 {
		t.Errorf("php exited with %v: %s", werr, stderr.String())
	}
	for _, s := range []string{"lock", "temp", "trans", "raw", "redirect"} {
		if rep.Ops[s] < 3 {
			t.Errorf("scenario %s ran %d times, want at least 3", s, rep.Ops[s])
		}
	}
	routed := h.routed()
	t.Logf("router: %v", routed)
	replica := 0.0
	for k, v := range routed {
		if strings.HasPrefix(k, "replica/") {
			replica += v
		}
	}
	if replica == 0 {
		t.Errorf("no statement ran on a replica: the test proves nothing about routing")
	}
}
