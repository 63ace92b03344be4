package mysqlwire

import (
	"bytes"
	"testing"
)

// Every parser must reject garbage with an error, never panic or loop.

func FuzzParseOK(f *testing.F) {
	f.Add([]byte{0, 1, 2, 2, 0x40, 0, 0, 0, 0x13, 0, 0x11, 9, 'l', 'a', 's', 't', '_', 'g', 't', 'i', 'd', 6, '0', '-', '1', '-', '1', '3'})
	f.Add([]byte{0xfe, 0, 0, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, caps := range []uint32{CapProtocol41, CapProtocol41 | CapSessionTrack} {
			ok, err := ParseOK(p, caps)
			if err != nil {
				continue
			}
			_ = EachStateChange(ok.State, func(StateChange) {})
			again, err := ParseOK(ok.AppendOK(nil, iOK, caps), caps)
			if err != nil || again.AffectedRows != ok.AffectedRows || again.InsertID != ok.InsertID {
				t.Fatalf("re-encoded OK does not parse back: %+v vs %+v (%v)", again, ok, err)
			}
		}
	})
}

func FuzzEachStateChange(f *testing.F) {
	f.Add([]byte{0, 0x11, 9, 'l', 'a', 's', 't', '_', 'g', 't', 'i', 'd', 6, '0', '-', '1', '-', '1', '3', 1, 2, 1, 'x'})
	f.Fuzz(func(t *testing.T, p []byte) {
		_ = EachStateChange(p, func(StateChange) {})
	})
}

func FuzzParseERR(f *testing.F) {
	f.Add(Errorf(1045, "28000", "denied").AppendERR(nil))
	f.Fuzz(func(t *testing.T, p []byte) {
		if e, err := ParseERR(p); err == nil && e == nil {
			t.Fatal("nil error without an error")
		}
	})
}

// FuzzTakeReadOnlyRefusal feeds any answer to the check run before relaying
// a write: it must not panic, and it consumes a packet only when it is a
// read-only refusal.
func FuzzTakeReadOnlyRefusal(f *testing.F) {
	f.Add(stream(1, Errorf(ErOptionPreventsStmt, "HY000", "running with the --read-only option").AppendERR(nil)))
	f.Add(stream(1, []byte{0xff, 0x0a, 0x05}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := pipeWith(t, b)
		took := c.TakeReadOnlyRefusal()
		if took && !isReadOnlyRefusal(b[4:]) {
			t.Fatalf("consumed %x, which is not a read-only refusal", b)
		}
	})
}

func FuzzParseGreeting(f *testing.F) {
	g := Greeting{ServerVersion: "5.5.5-10.11.19-MariaDB", ConnID: 1, Salt: []byte("abcdefghij0123456789"), Caps: ProxyCaps, Plugin: NativePassword}
	f.Add(g.AppendGreeting(nil))
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = ParseGreeting(p)
	})
}

func FuzzParseHandshakeResponse(f *testing.F) {
	r := HandshakeResponse{Caps: ClientCaps | CapConnectWithDB, User: "u", AuthData: []byte("12345678901234567890"), DB: "d", Plugin: NativePassword, Attrs: []byte{1, 'a', 1, 'b'}}
	f.Add(r.AppendHandshakeResponse(nil))
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = ParseHandshakeResponse(p)
	})
}

func FuzzParseChangeUser(f *testing.F) {
	f.Add([]byte("\x11moodle\x00\x14abcdefghij0123456789moodle\x00\x2d\x00mysql_native_password\x00"), uint32(ClientCaps))
	f.Fuzz(func(t *testing.T, p []byte, caps uint32) {
		_, _ = ParseChangeUser(p, caps)
	})
}

func FuzzParseAuthSwitch(f *testing.F) {
	f.Add(AppendAuthSwitch(nil, NativePassword, []byte("abcdefghij0123456789")))
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _, _ = ParseAuthSwitch(p)
	})
}

// FuzzRelay feeds arbitrary server bytes to the relay: it must end (with an
// error when the stream is truncated or malformed) and never panic.
func FuzzRelay(f *testing.F) {
	f.Add(stream(1, []byte{1}, colDef("a"), textRow("1"), okPayload(iEOF, StatusAutocommit, capsDeprecate)), uint8(0), true)
	f.Add(stream(1, okPayload(iOK, StatusMoreResults, capsDeprecate), []byte{0xff, 1, 2}), uint8(0), true)
	f.Add(stream(1, []byte{0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}, colDef("?"), colDef("a")), uint8(1), false)
	f.Fuzz(func(t *testing.T, server []byte, kind uint8, deprecate bool) {
		caps := capsEOF
		if deprecate {
			caps = capsDeprecate
		}
		if bytes.Contains(server, []byte{iLocalInfile}) {
			return // needs a client that answers; covered by TestRelayLocalInfile
		}
		_, _, _ = runRelay(t, server, Response(kind%4), caps|CapSessionTrack, caps, func(StateChange) {})
	})
}
