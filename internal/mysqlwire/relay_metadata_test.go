package mysqlwire

import (
	"bytes"
	"errors"
	"testing"
)

// TestRelayCachedMetadata relays result sets of a connection with
// ExtCacheMetadata: the column-count packet's metadata-follows byte says
// whether column definitions follow, with and without CLIENT_DEPRECATE_EOF.
func TestRelayCachedMetadata(t *testing.T) {
	row := textRow("1", "a")
	cases := []struct {
		name   string
		caps   uint32
		server []byte
	}{
		{"metadata follows, EOF", capsEOF, stream(1, []byte{2, 1}, colDef("id"), colDef("c"), eofPayload(StatusAutocommit), row, eofPayload(StatusAutocommit))},
		{"metadata cached, EOF", capsEOF, stream(1, []byte{2, 0}, eofPayload(StatusAutocommit), row, eofPayload(StatusAutocommit))},
		{"metadata follows, deprecate EOF", capsDeprecate, stream(1, []byte{2, 1}, colDef("id"), colDef("c"), row, okPayload(iEOF, StatusAutocommit, capsDeprecate))},
		{"metadata cached, deprecate EOF", capsDeprecate, stream(1, []byte{2, 0}, row, okPayload(iEOF, StatusAutocommit, capsDeprecate))},
		{"two results, second cached", capsDeprecate, stream(1,
			[]byte{1, 1}, colDef("id"), row[:2], okPayload(iEOF, StatusAutocommit|StatusMoreResults, capsDeprecate),
			[]byte{1, 0}, row[:2], okPayload(iEOF, StatusAutocommit, capsDeprecate))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, sum, err := runRelayWith(t, c.server, RespResult, Relay{ServerCaps: c.caps, ClientCaps: c.caps, CacheMetadata: true})
			if err != nil {
				t.Fatalf("relay: %v", err)
			}
			if !bytes.Equal(got, c.server) {
				t.Errorf("client got\n%x\nwant\n%x", got, c.server)
			}
			if !sum.HaveStatus || sum.Status&StatusMoreResults != 0 {
				t.Errorf("summary status %#x (known %v), want the last terminator's", sum.Status, sum.HaveStatus)
			}
		})
	}
}

// TestRelayCachedMetadataNeedsFlag: a column-count packet without its
// metadata-follows byte is a protocol error on such a connection.
func TestRelayCachedMetadataNeedsFlag(t *testing.T) {
	server := stream(1, []byte{1}, colDef("id"), textRow("1"), okPayload(iEOF, StatusAutocommit, capsDeprecate))
	_, _, err := runRelayWith(t, server, RespResult, Relay{ServerCaps: capsDeprecate, ClientCaps: capsDeprecate, CacheMetadata: true})
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("got %v, want ErrMalformed", err)
	}
}
