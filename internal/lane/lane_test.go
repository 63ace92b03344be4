package lane

import (
	"sync"
	"testing"
	"unsafe"
)

func TestCountersAddUpLanes(t *testing.T) {
	c := NewCounters(3)
	var wg sync.WaitGroup
	for l := range uint32(2 * Lanes) { // lane numbers wrap
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				c.Add(l, 0, 1)
				c.Add(l, 2, 3)
			}
		}()
	}
	wg.Wait()
	if got, want := c.Sum(0), uint64(2*Lanes*1000); got != want {
		t.Errorf("counter 0 = %d, want %d", got, want)
	}
	if got := c.Sum(1); got != 0 {
		t.Errorf("counter 1 = %d, want 0", got)
	}
	if got, want := c.Sum(2), uint64(3*2*Lanes*1000); got != want {
		t.Errorf("counter 2 = %d, want %d", got, want)
	}
}

func TestLanesDoNotShareLines(t *testing.T) {
	for _, n := range []int{1, 16, 17, 40} {
		c := NewCounters(n)
		first := func(l int) uintptr { return uintptr(unsafe.Pointer(&c.v[line/8+l*c.words])) }
		last := func(l int) uintptr { return uintptr(unsafe.Pointer(&c.v[line/8+l*c.words+n-1])) }
		for l := 1; l < Lanes; l++ {
			if gap := first(l) - last(l-1); gap < line {
				t.Fatalf("n=%d: lane %d starts %d bytes after lane %d's last counter, want at least %d", n, l, gap, l-1, line)
			}
		}
	}
}
