package mysqlwire

import (
	"bytes"
	"reflect"
	"testing"
)

// runRelayWhole buffers server in a server connection's read buffer and
// returns what RelayWhole(len(server)-tail) sent the client.
func runRelayWhole(t *testing.T, server []byte, n int, r Relay) ([]byte, Summary, error) {
	t.Helper()
	got := relayPipes(t, server, &r)
	if _, err := r.Server.br.Peek(len(server)); err != nil {
		t.Fatalf("buffering the answer: %v", err)
	}
	sum, err := r.RelayWhole(n)
	if err == nil {
		err = r.Client.Flush() // nothing buffered on the plain path
	}
	r.Client.Close()
	return <-got, sum, err
}

// TestRelayWholeMatchesRelay: for every whole answer, RelayWhole sends the
// client the same bytes as Relay and reports the same summary, and leaves
// what follows the answer in the buffer.
func TestRelayWholeMatchesRelay(t *testing.T) {
	tail := stream(7, []byte{1})
	for _, c := range scanValidCases() {
		t.Run(c.name, func(t *testing.T) {
			r := Relay{ServerCaps: c.caps, ClientCaps: c.caps, CacheMetadata: c.cache}
			want, wantSum, err := runRelayWith(t, c.resp, RespResult, r)
			if err != nil {
				t.Fatalf("Relay: %v", err)
			}
			got, sum, err := runRelayWhole(t, append(append([]byte(nil), c.resp...), tail...), len(c.resp), r)
			if err != nil {
				t.Fatalf("RelayWhole: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("client got %x, Relay sends %x", got, want)
			}
			if !reflect.DeepEqual(sum, wantSum) {
				t.Errorf("summary %+v, Relay's %+v", sum, wantSum)
			}
		})
	}
}

// TestRelayWholeSessionState: an OK packet with session state goes through
// Relay: stripped for a client without tracking, and reported to Track.
func TestRelayWholeSessionState(t *testing.T) {
	serverCaps := capsDeprecate | CapSessionTrack
	state := append([]byte{TrackSystemVariables},
		appendLenencBytes(nil, appendLenencBytes(appendLenencBytes(nil, []byte("last_gtid")), []byte("0-1-9")))...)
	ok := OK{AffectedRows: 1, Status: StatusAutocommit | StatusSessionStateChange, State: state}
	server := stream(1, ok.AppendOK(nil, iOK, serverCaps))
	var gtid string
	r := Relay{ServerCaps: serverCaps, ClientCaps: capsDeprecate, Track: func(sc StateChange) { gtid = string(sc.Value) }}
	got, sum, err := runRelayWhole(t, server, len(server), r)
	if err != nil {
		t.Fatal(err)
	}
	if want := stream(1, ok.AppendOK(nil, iOK, capsDeprecate)); !bytes.Equal(got, want) {
		t.Errorf("client got %x, want %x (state stripped)", got, want)
	}
	if gtid != "0-1-9" || sum.AffectedRows != 1 {
		t.Errorf("tracked %q, summary %+v", gtid, sum)
	}
}
