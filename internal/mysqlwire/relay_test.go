package mysqlwire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// pkt frames payload with sequence seq (no splitting).
func pkt(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// stream frames payloads with sequence numbers from first on.
func stream(first byte, payloads ...[]byte) []byte {
	var b []byte
	for i, p := range payloads {
		b = append(b, pkt(first+byte(i), p)...)
	}
	return b
}

func okPayload(hdr byte, status uint16, caps uint32) []byte {
	o := OK{Status: status}
	return o.AppendOK(nil, hdr, caps)
}

func eofPayload(status uint16) []byte { return AppendEOF(nil, 0, status) }

func colDef(name string) []byte {
	var b []byte
	for _, s := range []string{"def", "db", "t", "t", name, name} {
		b = appendLenencBytes(b, []byte(s))
	}
	return append(b, 0x0c, 0x21, 0, 0x0b, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0)
}

func textRow(vals ...string) []byte {
	var b []byte
	for _, v := range vals {
		b = appendLenencBytes(b, []byte(v))
	}
	return b
}

// runRelay feeds server to a Relay and returns what the client received.
func runRelay(t testing.TB, server []byte, kind Response, serverCaps, clientCaps uint32, track func(StateChange)) ([]byte, Summary, error) {
	t.Helper()
	return runRelayWith(t, server, kind, Relay{ServerCaps: serverCaps, ClientCaps: clientCaps, Track: track})
}

// runRelayWith is runRelay with the Relay's settings in r (its connections
// are set here).
func runRelayWith(t testing.TB, server []byte, kind Response, r Relay) ([]byte, Summary, error) {
	t.Helper()
	got := relayPipes(t, server, &r)
	sum, err := r.Relay(kind)
	r.Client.Close()
	return <-got, sum, err
}

// relayPipes connects r to a server that sends server and then closes, and
// to a client whose bytes arrive on the channel once r.Client is closed.
func relayPipes(t testing.TB, server []byte, r *Relay) <-chan []byte {
	srvA, srvB := net.Pipe()
	cliA, cliB := net.Pipe()
	t.Cleanup(func() { srvA.Close() })
	_ = srvA.SetDeadline(time.Now().Add(5 * time.Second))
	_ = cliA.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		_, _ = srvB.Write(server)
		srvB.Close()
	}()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(cliB)
		got <- b
	}()
	r.Server, r.Client = NewClientConn(srvA), NewServerConn(cliA)
	return got
}

const (
	capsEOF       = CapProtocol41 | CapMultiResults
	capsDeprecate = CapProtocol41 | CapMultiResults | CapDeprecateEOF
)

func TestRelayPassesResponsesThrough(t *testing.T) {
	bigRow := bytes.Repeat([]byte{'x'}, MaxPayload)
	bigRow[0] = 0xfe // a text value of >= 16 MiB starts with 0xfe
	tail := append([]byte{0xfe}, bytes.Repeat([]byte{'y'}, 99)...)
	cases := []struct {
		name       string
		caps       uint32
		kind       Response
		server     []byte
		wantStatus uint16
		wantErr    uint16
	}{
		{"OK", capsDeprecate, RespResult, stream(1, okPayload(iOK, StatusAutocommit, capsDeprecate)), StatusAutocommit, 0},
		{"ERR", capsDeprecate, RespResult, stream(1, Errorf(1146, "42S02", "no table").AppendERR(nil)), 0, 1146},
		{"result set, deprecate EOF", capsDeprecate, RespResult, stream(1,
			[]byte{2}, colDef("a"), colDef("b"), textRow("1", "x"), textRow("2", "y"),
			okPayload(iEOF, StatusAutocommit|StatusInTrans, capsDeprecate)), StatusAutocommit | StatusInTrans, 0},
		{"result set, classic EOF", capsEOF, RespResult, stream(1,
			[]byte{1}, colDef("a"), eofPayload(StatusAutocommit), textRow("1"), []byte{0xfb}, eofPayload(StatusAutocommit)),
			StatusAutocommit, 0},
		{"multi results ending in an error", capsDeprecate, RespResult, stream(1,
			okPayload(iOK, StatusAutocommit|StatusMoreResults, capsDeprecate),
			[]byte{1}, colDef("a"), textRow("1"), okPayload(iEOF, StatusAutocommit|StatusMoreResults, capsDeprecate),
			Errorf(1064, "42000", "syntax").AppendERR(nil)), StatusAutocommit | StatusMoreResults, 1064},
		{"error mid-rows", capsDeprecate, RespResult, stream(1,
			[]byte{1}, colDef("a"), textRow("1"), Errorf(1317, "70100", "interrupted").AppendERR(nil)), 0, 1317},
		{"row over 16 MiB", capsDeprecate, RespResult, append(append(stream(1, []byte{1}, colDef("a")),
			stream(3, bigRow, tail)...), stream(5, okPayload(iEOF, StatusAutocommit, capsDeprecate))...), StatusAutocommit, 0},
		{"cursor opened", capsEOF, RespResult, stream(1, []byte{1}, colDef("a"), eofPayload(StatusAutocommit|StatusCursorExists)),
			StatusAutocommit | StatusCursorExists, 0},
		{"fetch", capsEOF, RespRows, stream(1, []byte{0, 0, 1}, eofPayload(StatusCursorExists|StatusLastRowSent)),
			StatusCursorExists | StatusLastRowSent, 0},
		{"field list", capsEOF, RespRows, stream(1, colDef("a"), colDef("b"), eofPayload(StatusAutocommit)), StatusAutocommit, 0},
		{"statistics", capsEOF, RespOne, stream(1, []byte("Uptime: 5  Threads: 1")), 0, 0},
		{"prepare", capsEOF, RespPrepare, stream(1,
			[]byte{0, 9, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0}, colDef("?"), colDef("?"), eofPayload(StatusAutocommit),
			colDef("a"), eofPayload(StatusAutocommit)), 0, 0},
		{"prepare error", capsEOF, RespPrepare, stream(1, Errorf(1064, "42000", "syntax").AppendERR(nil)), 0, 1064},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, sum, err := runRelay(t, tc.server, tc.kind, tc.caps, tc.caps, nil)
			if err != nil {
				t.Fatalf("relay: %v", err)
			}
			if !bytes.Equal(got, tc.server) {
				t.Errorf("client got %d bytes, want the server's %d unchanged", len(got), len(tc.server))
			}
			if sum.Status != tc.wantStatus {
				t.Errorf("status = %#x, want %#x", sum.Status, tc.wantStatus)
			}
			var gotErr uint16
			if sum.Err != nil {
				gotErr = sum.Err.Number
			}
			if gotErr != tc.wantErr {
				t.Errorf("error = %d, want %d", gotErr, tc.wantErr)
			}
		})
	}
}

func TestRelayPrepareSummary(t *testing.T) {
	server := stream(1, []byte{0, 9, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0}, colDef("?"), colDef("?"), colDef("a"))
	_, sum, err := runRelay(t, server, RespPrepare, capsDeprecate, capsDeprecate, nil)
	if err != nil || sum.StmtID != 9 || sum.Params != 2 || sum.Columns != 1 {
		t.Errorf("summary %+v err %v, want statement 9 with 2 params and 1 column", sum, err)
	}
}

func TestRelayStripsSessionStateForClientsWithoutTracking(t *testing.T) {
	serverCaps := capsDeprecate | CapSessionTrack
	var state []byte
	state = append(state, TrackSystemVariables)
	state = appendLenencBytes(state, appendLenencBytes(appendLenencBytes(nil, []byte("last_gtid")), []byte("0-1-9")))
	ok := OK{AffectedRows: 2, InsertID: 5, Status: StatusAutocommit | StatusSessionStateChange, Info: []byte("Records: 2"), State: state}
	server := stream(1, ok.AppendOK(nil, iOK, serverCaps))
	var gtid string
	got, sum, err := runRelay(t, server, RespResult, serverCaps, capsDeprecate, func(sc StateChange) {
		if string(sc.Name) == "last_gtid" {
			gtid = string(sc.Value)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := stream(1, ok.AppendOK(nil, iOK, capsDeprecate))
	if !bytes.Equal(got, want) {
		t.Errorf("client got %x, want %x", got, want)
	}
	if gtid != "0-1-9" || sum.AffectedRows != 2 || sum.InsertID != 5 {
		t.Errorf("tracked gtid %q, summary %+v", gtid, sum)
	}
	// A client that negotiated tracking gets the packet unchanged.
	got, _, _ = runRelay(t, server, RespResult, serverCaps, serverCaps, nil)
	if !bytes.Equal(got, server) {
		t.Errorf("tracking client got %x, want %x", got, server)
	}
}

func TestRelayLocalInfile(t *testing.T) {
	srvA, srvB := net.Pipe()
	cliA, cliB := net.Pipe()
	defer srvA.Close()
	defer srvB.Close()
	defer cliB.Close()
	for _, c := range []net.Conn{srvA, srvB, cliA, cliB} {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	fileData := stream(2, []byte("1,a\n2,b\n"), nil)
	go func() { // the server: ask for the file, read it, answer OK
		_, _ = srvB.Write(stream(1, append([]byte{iLocalInfile}, "/tmp/x.csv"...)))
		buf := make([]byte, len(fileData))
		if _, err := io.ReadFull(srvB, buf); err != nil || !bytes.Equal(buf, fileData) {
			t.Errorf("server got file %q (%v), want %q", buf, err, fileData)
		}
		_, _ = srvB.Write(stream(4, okPayload(iOK, StatusAutocommit, capsDeprecate)))
	}()
	go func() { // the client: read the request, send the file, read the OK
		req := make([]byte, 4+11)
		_, _ = io.ReadFull(cliB, req)
		_, _ = cliB.Write(fileData)
		_, _ = io.ReadAll(cliB)
	}()
	r := Relay{Server: NewClientConn(srvA), Client: NewServerConn(cliA), ServerCaps: capsDeprecate, ClientCaps: capsDeprecate}
	sum, err := r.Relay(RespResult)
	cliA.Close()
	if err != nil || sum.Status != StatusAutocommit {
		t.Fatalf("relay: %+v %v", sum, err)
	}
}

func TestRelayServerGoneMidResult(t *testing.T) {
	server := stream(1, []byte{1}, colDef("a"), textRow("1"))
	_, sum, err := runRelay(t, server, RespResult, capsDeprecate, capsDeprecate, nil)
	if !errors.Is(err, ErrServerIO) || !sum.Sent {
		t.Errorf("got sent=%v err=%v, want ErrServerIO after sending", sum.Sent, err)
	}
}

func TestConnSplitsLargePackets(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	payload := bytes.Repeat([]byte{1, 2, 3}, MaxPayload/3+10)
	go func() {
		w := NewClientConn(a)
		_ = w.WritePacket(payload)
		_ = w.Flush()
	}()
	r := NewServerConn(b)
	got, err := r.ReadPacket()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(payload))
	}
	if r.Seq() != 2 {
		t.Errorf("sequence after a 2-packet payload = %d, want 2", r.Seq())
	}
}
