package vrrp

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var (
	srcA = netip.MustParseAddr("10.213.0.11")
	srcB = netip.MustParseAddr("10.213.0.12")
	vip  = netip.MustParseAddr("10.213.0.100")
)

func TestAdvertRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		in   Advert
		dst  netip.Addr
	}{
		{"multicast one address", Advert{VRID: 213, Priority: 150, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip}}, MulticastGroup},
		{"unicast two addresses", Advert{VRID: 1, Priority: 100, Interval: time.Second, Addresses: []netip.Addr{vip, srcA}}, srcB},
		{"priority 0", Advert{VRID: 255, Priority: 0, Interval: 40950 * time.Millisecond, Addresses: []netip.Addr{vip}}, MulticastGroup},
	}
	for _, c := range cases {
		b, err := c.in.Marshal(srcA, c.dst)
		if err != nil {
			t.Fatalf("%s: Marshal: %v", c.name, err)
		}
		got, err := ParseAdvert(b, srcA, c.dst)
		if err != nil {
			t.Fatalf("%s: ParseAdvert: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, c.in) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.in)
		}
	}
}

func TestParseKeepalivedCapture(t *testing.T) {
	b, err := hex.DecodeString(capturedKeepalived)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAdvert(b, srcA, MulticastGroup)
	if err != nil {
		t.Fatalf("ParseAdvert(keepalived capture): %v", err)
	}
	want := Advert{VRID: 213, Priority: 150, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	ours, _ := want.Marshal(srcA, MulticastGroup)
	if hex.EncodeToString(ours) != capturedKeepalived {
		t.Fatalf("Marshal = %x, want keepalived's %s", ours, capturedKeepalived)
	}
}

func TestParseAdvertErrors(t *testing.T) {
	good, _ := (&Advert{VRID: 7, Priority: 100, Interval: time.Second, Addresses: []netip.Addr{vip}}).Marshal(srcA, MulticastGroup)
	flip := func(i int, v byte) []byte { b := append([]byte(nil), good...); b[i] = v; return b }
	cases := []struct {
		name string
		b    []byte
		src  netip.Addr
		want error
	}{
		{"empty", nil, srcA, ErrShort},
		{"header only, count 1", good[:8], srcA, ErrShort},
		{"version 2", flip(0, 0x21), srcA, ErrVersion},
		{"type 2", flip(0, 0x32), srcA, ErrVersion},
		{"bad checksum", flip(2, 99), srcA, ErrChecksum},
		{"zero interval", zeroInterval(good), srcA, ErrInterval},
		{"other source", good, srcB, ErrChecksum},
		{"ipv6 source, ipv4 group", good, netip.IPv6Loopback(), ErrFamily},
	}
	for _, c := range cases {
		_, err := ParseAdvert(c.b, c.src, MulticastGroup)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestIPv4RoundTrip(t *testing.T) {
	payload := []byte{1, 2, 3}
	b := BuildIPv4(srcA, MulticastGroup, payload)
	h, p, err := ParseIPv4(b)
	if err != nil {
		t.Fatal(err)
	}
	want := IPv4Header{Src: srcA, Dst: MulticastGroup, TTL: 255, Protocol: Protocol}
	if h != want || string(p) != string(payload) {
		t.Fatalf("got %+v %x, want %+v %x", h, p, want, payload)
	}
	if _, _, err := ParseIPv4(b[:19]); !errors.Is(err, ErrShort) {
		t.Fatalf("short header: got %v, want ErrShort", err)
	}
}

func FuzzParseAdvert(f *testing.F) {
	good, _ := (&Advert{VRID: 7, Priority: 100, Interval: time.Second, Addresses: []netip.Addr{vip, srcB}}).Marshal(srcA, MulticastGroup)
	f.Add(good, false)
	f.Add([]byte{0x31, 1, 2, 0, 0, 10, 0, 0}, false)
	b6, _ := hex.DecodeString(capturedKeepalived6)
	f.Add(b6, true)
	src6 := netip.MustParseAddr("fe80::ff:fe00:11")
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		src, dst := srcA, MulticastGroup
		if v6 {
			src, dst = src6, MulticastGroup6
		}
		a, err := ParseAdvert(b, src, dst)
		if err != nil {
			return
		}
		again, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatalf("Marshal of parsed advert: %v", err)
		}
		back, err := ParseAdvert(again, src, dst)
		if err != nil || !reflect.DeepEqual(back, a) {
			t.Fatalf("re-parse: got %+v, %v, want %+v", back, err, a)
		}
	})
}

func FuzzParseIPv4(f *testing.F) {
	f.Add(BuildIPv4(srcA, MulticastGroup, []byte{0x31, 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := ParseIPv4(b)
		if err != nil {
			return
		}
		if len(p) > len(b)-20 || !h.Src.Is4() {
			t.Fatalf("payload %d of %d bytes, src %v", len(p), len(b), h.Src)
		}
	})
}

// capturedKeepalived is a keepalived 2.2.7 advert (version 3, vrid 213,
// priority 150, advert_int 0.1, VIP 10.213.0.100) from 10.213.0.11 to
// 224.0.0.18, captured with tcpdump -x.
const capturedKeepalived = "31d59601000a41770ad50064"

// capturedKeepalived6 is keepalived 2.2.7's IPv6 advert (version 3, vrid 213,
// priority 150, advert_int 0.1, VIP fd00:213::100) from fe80::ff:fe00:11 to
// ff02::12.
const capturedKeepalived6 = "31d59601000a3adcfd000213000000000000000000000100"

func TestKeepalivedIPv6Capture(t *testing.T) {
	src := netip.MustParseAddr("fe80::ff:fe00:11")
	want := Advert{VRID: 213, Priority: 150, Interval: 100 * time.Millisecond,
		Addresses: []netip.Addr{netip.MustParseAddr("fd00:213::100")}}
	b, _ := hex.DecodeString(capturedKeepalived6)
	got, err := ParseAdvert(b, src, MulticastGroup6)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseAdvert = %+v, %v; want %+v", got, err, want)
	}
	ours, err := want.Marshal(src, MulticastGroup6)
	if err != nil || hex.EncodeToString(ours) != capturedKeepalived6 {
		t.Fatalf("Marshal = %x, %v; want keepalived's %s", ours, err, capturedKeepalived6)
	}
}

func TestMarshalRejectsMixedFamilies(t *testing.T) {
	v6 := netip.MustParseAddr("fd00::1")
	cases := []struct {
		name     string
		src, dst netip.Addr
		addrs    []netip.Addr
	}{
		{"v4 src, v6 dst", srcA, MulticastGroup6, []netip.Addr{vip}},
		{"v6 packet, v4 address", v6, MulticastGroup6, []netip.Addr{vip}},
		{"v4 packet, v6 address", srcA, MulticastGroup, []netip.Addr{v6}},
	}
	for _, c := range cases {
		a := Advert{VRID: 1, Priority: 1, Interval: time.Second, Addresses: c.addrs}
		if _, err := a.Marshal(c.src, c.dst); !errors.Is(err, ErrFamily) {
			t.Errorf("%s: got %v, want ErrFamily", c.name, err)
		}
	}
}

// zeroInterval returns a copy of advert b with interval 0 and a valid checksum.
func zeroInterval(b []byte) []byte {
	z := append([]byte(nil), b...)
	z[4], z[5], z[6], z[7] = 0, 0, 0, 0
	binary.BigEndian.PutUint16(z[6:], checksum(z, srcA, MulticastGroup))
	return z
}
