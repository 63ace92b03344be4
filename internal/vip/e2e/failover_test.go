package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const adv = 100 * time.Millisecond

// pair starts services on a and b, vigil a (usually priority 150) until it
// is master, then vigil b (usually 100), and waits until a answers on the VIP.
func pair(t *testing.T, oa, ob speakerOpts) (*lab, *proc, *proc) {
	l := newLab(t)
	l.startService("a")
	l.startService("b")
	a := l.startVigil("a", oa)
	a.waitState("MASTER", 3*time.Second)
	b := l.startVigil("b", ob)
	b.waitState("BACKUP", time.Second)
	l.waitAnswer("a", 2*time.Second)
	return l, a, b
}

func TestKillMasterThenReturnWithStaleVIP(t *testing.T) {
	l, a, b := pair(t, speakerOpts{prio: 150, interval: adv}, speakerOpts{prio: 100, interval: adv})
	a.stop(syscall.SIGKILL)
	b.waitState("MASTER", time.Second)
	l.waitAnswer("b", time.Second)
	if !l.hasVIP("a") {
		t.Fatal("a lost the VIP on SIGKILL; want the stale address the restart must remove")
	}
	a2 := l.startVigil("a", speakerOpts{prio: 150, interval: adv})
	a2.waitState("BACKUP", time.Second)
	if !strings.Contains(a2.log.String(), "removing stale virtual address") {
		t.Errorf("restart did not report the stale VIP:\n%s", a2.log.String())
	}
	a2.waitState("MASTER", 2*time.Second) // preempt: higher priority returns
	b.waitState("BACKUP", time.Second)
	l.waitAnswer("a", time.Second)
	if l.hasVIP("b") {
		t.Fatal("b still holds the VIP after a preempted")
	}
}

func TestLinkDown(t *testing.T) {
	l, a, b := pair(t, speakerOpts{prio: 150, interval: adv}, speakerOpts{prio: 100, interval: adv})
	l.ip("-n", l.ns("a"), "link", "set", "eth0", "down")
	a.waitState("FAULT", time.Second)
	b.waitState("MASTER", time.Second)
	l.waitAnswer("b", time.Second)
	if l.hasVIP("a") {
		t.Fatal("a kept the VIP in FAULT")
	}
	l.ip("-n", l.ns("a"), "link", "set", "eth0", "up")
	a.waitState("MASTER", 3*time.Second)
	l.waitAnswer("a", time.Second)
}

func TestCheckFailing(t *testing.T) {
	l, a, b := pair(t, speakerOpts{prio: 150, interval: adv}, speakerOpts{prio: 100, interval: adv})
	l.stopService("a")
	a.waitState("FAULT", 2*time.Second)
	b.waitState("MASTER", time.Second)
	l.waitAnswer("b", time.Second)
	l.startService("a")
	a.waitState("MASTER", 3*time.Second)
	l.waitAnswer("a", time.Second)
}

func TestGracefulStopSendsPriorityZero(t *testing.T) {
	// b waits 30 missed adverts (3s) for a silent master, so a takeover well
	// under that can only come from a's priority-0 advert (skew: 61ms).
	l, a, b := pair(t, speakerOpts{prio: 150, interval: adv},
		speakerOpts{prio: 100, interval: adv, extra: []string{"--down-adverts", "30"}})
	start := time.Now()
	a.stop(syscall.SIGTERM)
	b.waitState("MASTER", 2*time.Second)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("takeover after graceful stop took %v, want about the skew time (priority 0 ignored?)", took)
	}
	if l.hasVIP("a") {
		t.Fatal("a kept the VIP after a graceful stop")
	}
	l.waitAnswer("b", time.Second)
}

func TestNoPreempt(t *testing.T) {
	l, a, b := pair(t, speakerOpts{prio: 150, interval: adv, nopreempt: true},
		speakerOpts{prio: 100, interval: adv, nopreempt: true})
	a.stop(syscall.SIGTERM)
	b.waitState("MASTER", time.Second)
	a2 := l.startVigil("a", speakerOpts{prio: 150, interval: adv, nopreempt: true})
	a2.waitState("BACKUP", time.Second)
	time.Sleep(1500 * time.Millisecond) // > 3 master-down intervals
	if got := a2.lastState(); got != "BACKUP" {
		t.Fatalf("returning a with nopreempt is %s, want BACKUP", got)
	}
	l.waitAnswer("b", time.Second)
}

// TestNotifyAndMetrics checks the --notify command and /metrics.
func TestNotifyAndMetrics(t *testing.T) {
	l := newLab(t)
	l.startService("a")
	out := filepath.Join(l.dir, "notify.out")
	script := filepath.Join(l.dir, "notify.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$1 $2\" >> "+out+"\n"), 0o755)
	a := l.startVigil("a", speakerOpts{prio: 150, interval: adv,
		extra: []string{"--notify", script + " vi1", "--http-listen", "127.0.0.1:9913"}})
	a.waitState("MASTER", 3*time.Second)
	if m := l.metrics("a", "127.0.0.1:9913"); !strings.Contains(m, `vigil_vip_state{state="MASTER"} 1`) {
		t.Errorf("metrics do not show MASTER:\n%s", m)
	}
	l.stopService("a")
	a.waitState("FAULT", 2*time.Second)
	deadline := time.Now().Add(2 * time.Second)
	want := "vi1 BACKUP\nvi1 MASTER\nvi1 FAULT\n"
	var got []byte
	for time.Now().Before(deadline) {
		if got, _ = os.ReadFile(out); string(got) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("notify script saw %q, want %q", got, want)
}

// TestDeletedVIPIsRestored: an address deleted behind the master's back is
// re-added (and announced) at the next GARP refresh.
func TestDeletedVIPIsRestored(t *testing.T) {
	l := newLab(t)
	l.startService("a")
	a := l.startVigil("a", speakerOpts{prio: 150, interval: adv, extra: []string{"--garp-refresh", "300ms"}})
	a.waitState("MASTER", 3*time.Second)
	l.waitAnswer("a", time.Second)
	l.ip("-n", l.ns("a"), "addr", "del", l.vipCIDR(), "dev", "eth0")
	if l.hasVIP("a") {
		t.Fatal("VIP still present right after ip addr del")
	}
	l.waitAnswer("a", time.Second)
	if !l.hasVIP("a") {
		t.Fatal("VIP answered but not on a's interface")
	}
}
