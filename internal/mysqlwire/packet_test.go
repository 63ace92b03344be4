package mysqlwire

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func TestLenencRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 250, 251, 252, 65535, 65536, 1<<24 - 1, 1 << 24, 1<<64 - 1} {
		b := appendLenenc(nil, v)
		got, n, null, err := readLenenc(b)
		if err != nil || null || got != v || n != len(b) {
			t.Errorf("lenenc %d: got %d (n=%d null=%v err=%v), encoded %x", v, got, n, null, err, b)
		}
	}
	if _, _, null, _ := readLenenc([]byte{0xfb}); !null {
		t.Error("0xfb is not read as NULL")
	}
	for _, bad := range [][]byte{{}, {0xfc, 1}, {0xfd, 1, 2}, {0xfe, 1, 2, 3}, {0xff}} {
		if _, _, _, err := readLenenc(bad); err == nil {
			t.Errorf("readLenenc(%x) accepted a truncated or invalid integer", bad)
		}
	}
}

func TestNativePasswordVectors(t *testing.T) {
	// PASSWORD('password') in MariaDB/MySQL.
	if got, want := FormatNativeHash(Stage2(Stage1("password"))), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"; got != want {
		t.Errorf("hash of 'password' = %s, want %s", got, want)
	}
	salt := []byte("abcdefghij0123456789")
	s2, _ := ParseNativeHash("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19")
	token := NativeToken(Stage1("password"), salt)
	s1, ok := VerifyNative(s2, salt, token)
	if !ok || !bytes.Equal(s1, Stage1("password")) {
		t.Fatalf("VerifyNative of a right token: ok=%v stage1=%x", ok, s1)
	}
	if _, ok := VerifyNative(s2, salt, NativeToken(Stage1("wrong"), salt)); ok {
		t.Error("VerifyNative accepted a wrong password")
	}
	if _, ok := VerifyNative(nil, salt, nil); !ok {
		t.Error("empty password with empty token refused")
	}
	if _, ok := VerifyNative(nil, salt, token); ok {
		t.Error("empty password accepted a token")
	}
	if _, ok := VerifyNative(s2, salt, nil); ok {
		t.Error("password accepted an empty token")
	}
}

func TestCredentialsFor(t *testing.T) {
	clear, _ := CredentialsFor("secret")
	hashed, _ := CredentialsFor(FormatNativeHash(Stage2(Stage1("secret"))))
	if !bytes.Equal(clear.Stage2, hashed.Stage2) || hashed.Stage1 != nil || clear.Stage1 == nil {
		t.Errorf("clear %+v and hashed %+v credentials disagree", clear, hashed)
	}
}

func TestOKRoundTrip(t *testing.T) {
	var state []byte
	state = append(state, TrackSystemVariables)
	state = appendLenencBytes(state, appendLenencBytes(appendLenencBytes(nil, []byte("last_gtid")), []byte("0-1-42")))
	state = append(state, TrackSchema)
	state = appendLenencBytes(state, appendLenencBytes(nil, []byte("moodle")))
	ok := OK{AffectedRows: 3, InsertID: 300, Status: StatusAutocommit | StatusSessionStateChange, Warnings: 1,
		Info: []byte("Rows matched: 3"), State: state}
	for _, caps := range []uint32{CapProtocol41, CapProtocol41 | CapSessionTrack} {
		b := ok.AppendOK(nil, iOK, caps)
		got, err := ParseOK(b, caps)
		if err != nil {
			t.Fatalf("caps %x: %v", caps, err)
		}
		want := ok
		if caps&CapSessionTrack == 0 {
			want.Status &^= StatusSessionStateChange
			want.State = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("caps %x: got %+v, want %+v", caps, got, want)
		}
	}
	var seen []string
	if err := EachStateChange(state, func(sc StateChange) {
		seen = append(seen, string(sc.Name)+"="+string(sc.Value))
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"last_gtid=0-1-42", "=moodle"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("state changes = %q, want %q", seen, want)
	}
}

func TestParseOKFromMariaDB(t *testing.T) {
	// An INSERT's OK from MariaDB 10.11.19 to a CLIENT_SESSION_TRACK
	// connection, carrying last_gtid (read with Conn.ReadPacket and
	// hex-encoded).
	raw, _ := hex.DecodeString("0001020240000000130011096c6173745f6774696406302d312d3133")
	ok, err := ParseOK(raw, CapProtocol41|CapSessionTrack)
	if err != nil {
		t.Fatal(err)
	}
	var gtid string
	_ = EachStateChange(ok.State, func(sc StateChange) {
		if string(sc.Name) == "last_gtid" {
			gtid = string(sc.Value)
		}
	})
	if ok.AffectedRows != 1 || ok.InsertID != 2 || gtid != "0-1-13" {
		t.Errorf("got %+v gtid %q, want 1 row, insert id 2, gtid 0-1-13", ok, gtid)
	}
}

func TestERRRoundTrip(t *testing.T) {
	e := Errorf(ErAccessDenied, "28000", "Access denied for user '%s'", "x")
	got, err := ParseERR(e.AppendERR(nil))
	if err != nil || *got != *e {
		t.Errorf("got %+v (%v), want %+v", got, err, e)
	}
	if got, _ := ParseERR([]byte{0xff, 0x10, 0x04, 'h', 'i'}); got.Number != 1040 || got.State != "HY000" || got.Message != "hi" {
		t.Errorf("ERR without SQLSTATE: %+v", got)
	}
}

func TestGreetingRoundTrip(t *testing.T) {
	g := Greeting{ServerVersion: "5.5.5-10.11.19-MariaDB", ConnID: 77, Salt: []byte("abcdefghij0123456789"),
		Caps: ProxyCaps, Charset: 45, Status: StatusAutocommit, Plugin: NativePassword}
	got, err := ParseGreeting(g.AppendGreeting(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, g) {
		t.Errorf("got %+v, want %+v", *got, g)
	}
}

func TestHandshakeResponseRoundTrip(t *testing.T) {
	for _, caps := range []uint32{
		ClientCaps | CapConnectWithDB,
		ClientCaps &^ CapPluginAuthLenenc &^ CapConnectAttrs,
	} {
		r := HandshakeResponse{Caps: caps, MaxPacket: MaxPayload, Charset: 45, User: "moodle",
			AuthData: bytes.Repeat([]byte{7}, 20), Plugin: NativePassword}
		if caps&CapConnectWithDB != 0 {
			r.DB = "moodle"
		}
		if caps&CapConnectAttrs != 0 {
			r.Attrs = appendLenencBytes(appendLenencBytes(nil, []byte("_client_name")), []byte("vigil"))
		}
		got, err := ParseHandshakeResponse(r.AppendHandshakeResponse(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, r) {
			t.Errorf("caps %x: got %+v, want %+v", caps, *got, r)
		}
	}
}
