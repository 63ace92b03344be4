package vip

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestGARPFrame(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	got := hex.EncodeToString(garpFrame(mac, netip.MustParseAddr("10.213.0.100"), 1))
	want := "ffffffffffff" + "021122334455" + "0806" + // Ethernet: broadcast, from us, ARP
		"0001" + "0800" + "06" + "04" + "0001" + // Ethernet/IPv4, request
		"021122334455" + "0ad50064" + "ffffffffffff" + "0ad50064" // SHA SPA THA TPA
	if got != want {
		t.Fatalf("garpFrame = %s, want %s", got, want)
	}
}

func TestReadGreeting(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"mariadb greeting", append([]byte{0x5a, 0, 0, 0, 10}, []byte("5.5.5-10.11.6-MariaDB\x00")...), true},
		{"error packet", []byte{0x17, 0, 0, 0, 0xff, 0x6a, 0x04}, false},
		{"protocol 9", []byte{0x10, 0, 0, 0, 9}, false},
		{"empty packet", []byte{0, 0, 0, 0, 10}, false},
		{"truncated", []byte{0x5a, 0}, false},
		{"http", []byte("HTTP/1.1 200 OK\r\n"), false},
	}
	for _, c := range cases {
		err := readGreeting(bytes.NewReader(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%s: got %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestParseCheck(t *testing.T) {
	cases := []struct {
		in   string
		want Check
		ok   bool
	}{
		{"tcp:127.0.0.1:6033", Check{"tcp", "127.0.0.1:6033"}, true},
		{"mysql:localhost:6033", Check{"mysql", "localhost:6033"}, true},
		{"mysql:[::1]:6033", Check{"mysql", "[::1]:6033"}, true},
		{"http:127.0.0.1:80", Check{}, false},
		{"tcp:127.0.0.1", Check{}, false},
		{"", Check{}, false},
	}
	for _, c := range cases {
		got, err := ParseCheck(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseCheck(%q) = %+v, %v; want %+v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestProbeAgainstListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{1, 0, 0, 0, 0xff}) // not a greeting
			c.Close()
		}
	}()
	if err := (Check{"tcp", ln.Addr().String()}).Probe(t.Context(), time.Second); err != nil {
		t.Errorf("tcp probe of a listener: %v", err)
	}
	if err := (Check{"mysql", ln.Addr().String()}).Probe(t.Context(), time.Second); !errors.Is(err, errNotGreeting) {
		t.Errorf("mysql probe of a non-MySQL server: got %v, want errNotGreeting", err)
	}
	ln.Close()
	if err := (Check{"tcp", ln.Addr().String()}).Probe(t.Context(), time.Second); err == nil {
		t.Error("tcp probe of a closed port: got nil, want an error")
	}
}

func FuzzReadGreeting(f *testing.F) {
	f.Add([]byte{0x5a, 0, 0, 0, 10, '5'})
	f.Add([]byte{0x17, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := readGreeting(bytes.NewReader(b))
		if err == nil && (len(b) < 5 || b[4] != 10) {
			t.Fatalf("accepted %x as a greeting", b)
		}
	})
}

func FuzzParseCheck(f *testing.F) {
	f.Add("tcp:127.0.0.1:6033")
	f.Add("mysql:[::1]:1")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCheck(s)
		if err == nil && c.String() != s {
			t.Fatalf("ParseCheck(%q).String() = %q", s, c.String())
		}
	})
}

func TestNAMessage(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	got := hex.EncodeToString(naMessage(mac, netip.MustParseAddr("fd00:213::100")))
	want := "88" + "00" + "0000" + "20000000" + // type 136, code 0, checksum (kernel), Override
		"fd000213000000000000000000000100" + // target
		"0201" + "021122334455" // option: target link-layer address
	if got != want {
		t.Fatalf("naMessage = %s, want %s", got, want)
	}
}
