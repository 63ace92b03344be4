package vip

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// notifier runs the --notify command with the new state appended as its last
// argument, one at a time and in order, so a script never sees states out of
// order. The command line is split on spaces (no shell). Run owns the goroutine.
type notifier struct {
	argv    []string
	timeout time.Duration
	log     *slog.Logger
	queue   chan string
}

func newNotifier(cmd string, log *slog.Logger) *notifier {
	return &notifier{argv: strings.Fields(cmd), timeout: 30 * time.Second, log: log, queue: make(chan string, 64)}
}

// Post queues a state; it never blocks the protocol loop (a full queue drops
// the state and logs it).
func (n *notifier) Post(state string) {
	if len(n.argv) == 0 {
		return
	}
	select {
	case n.queue <- state:
	default:
		n.log.Warn("notify queue full, state not reported to the script", "state", state)
	}
}

// Run executes queued notifications until ctx ends, then runs what is left.
func (n *notifier) Run(ctx context.Context) {
	for {
		select {
		case s := <-n.queue:
			n.run(s)
		case <-ctx.Done():
			for {
				select {
				case s := <-n.queue:
					n.run(s)
				default:
					return
				}
			}
		}
	}
}

func (n *notifier) run(state string) {
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	args := append(append([]string(nil), n.argv[1:]...), state)
	out, err := exec.CommandContext(ctx, n.argv[0], args...).CombinedOutput()
	if err != nil {
		n.log.Warn("notify command failed", "command", strings.Join(n.argv, " "), "state", state,
			"err", fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out))))
	}
}
