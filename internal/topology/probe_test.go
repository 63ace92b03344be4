package topology

import (
	"testing"
	"time"
)

func TestReplicaFromRow(t *testing.T) {
	rs := replicaFromRow(map[string]string{
		"Master_Host": "127.0.0.1", "Master_Port": "3307", "Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes",
		"Slave_IO_State": "Waiting for master to send event", "Seconds_Behind_Master": "3",
		"Gtid_IO_Pos": "0-1-9", "Slave_received_heartbeats": "12", "Slave_heartbeat_period": "0.500",
		"Last_IO_Errno": "0", "Read_Master_Log_Pos": "1234",
	})
	if rs.Source() != "127.0.0.1:3307" || !rs.IOConnected() || !rs.SQLRunning || rs.Lag != 3*time.Second ||
		rs.Heartbeats != 12 || rs.HeartbeatPeriod != 500*time.Millisecond || rs.ReadSourceLogPos != 1234 {
		t.Fatalf("got %+v", rs)
	}
	rs = replicaFromRow(map[string]string{"Slave_IO_Running": "Yes", "Slave_IO_State": "Reconnecting after a failed master event read", "Seconds_Behind_Master": ""})
	if rs.IOConnected() || rs.Lag != -1 {
		t.Errorf("reconnecting replica: got connected=%v lag=%v, want false -1", rs.IOConnected(), rs.Lag)
	}
}

func FuzzReplicaFromRow(f *testing.F) {
	f.Add("127.0.0.1", "3307", "Yes", "0", "0.5", "0-1-2")
	f.Add("", "x", "Connecting", "", "NaN", "garbage")
	f.Fuzz(func(t *testing.T, host, port, io, lag, period, pos string) {
		rs := replicaFromRow(map[string]string{"Master_Host": host, "Master_Port": port, "Slave_IO_Running": io,
			"Seconds_Behind_Master": lag, "Slave_heartbeat_period": period, "Gtid_IO_Pos": pos})
		if rs.Lag < -1 {
			t.Fatalf("lag %v from %q", rs.Lag, lag)
		}
		_ = rs.Source()
		_ = rs.IOConnected()
	})
}
