package mysqlwire

import "testing"

// TestExtendedCapsRoundTrip: MariaDB extended capabilities survive the
// greeting and the handshake response, and are ignored (zero) when
// CLIENT_MYSQL (CapLongPassword) says the peer is MySQL.
func TestExtendedCapsRoundTrip(t *testing.T) {
	salt := []byte("abcdefghijklmnopqrst")
	for _, c := range []struct {
		caps, ext, want uint32
	}{
		{CapProtocol41 | CapSecureConnection | CapPluginAuth, ExtCacheMetadata | 1, ExtCacheMetadata | 1},
		{CapLongPassword | CapProtocol41 | CapSecureConnection | CapPluginAuth, ExtCacheMetadata, 0},
	} {
		g := Greeting{ServerVersion: "5.5.5-10.11.19-MariaDB", Salt: salt, Caps: c.caps, ExtCaps: c.ext, Plugin: NativePassword}
		got, err := ParseGreeting(g.AppendGreeting(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got.ExtCaps != c.want || got.Caps != c.caps {
			t.Errorf("greeting caps %#x ext %#x: parsed caps %#x ext %#x, want ext %#x", c.caps, c.ext, got.Caps, got.ExtCaps, c.want)
		}
		r := HandshakeResponse{Caps: c.caps, ExtCaps: c.ext, Charset: 45, User: "u", AuthData: salt, Plugin: NativePassword}
		back, err := ParseHandshakeResponse(r.AppendHandshakeResponse(nil))
		if err != nil {
			t.Fatal(err)
		}
		if back.ExtCaps != c.want || back.User != "u" || back.Caps != c.caps {
			t.Errorf("response caps %#x ext %#x: parsed %+v, want ext %#x", c.caps, c.ext, back, c.want)
		}
	}
}
