package sandbox

import "testing"

func TestFreePortsAvoidTheEphemeralRange(t *testing.T) {
	lo, hi := portPickRange()
	ports, err := FreePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < lo || p >= hi {
			t.Errorf("port %d outside the pick range %d-%d", p, lo, hi-1)
		}
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
		if !portFree(p) {
			t.Errorf("port %d is not free after FreePorts returned", p)
		}
	}
	if len(ports) != 8 {
		t.Fatalf("got %d ports, want 8", len(ports))
	}
}
