package router

import (
	"fmt"
	"strconv"
	"time"
)

// Target is where a statement runs.
type Target uint8

// Targets.
const (
	TargetPrimary Target = iota + 1
	TargetReplica
	TargetReject // do not run: answer with an error packet carrying Decision.Message
)

// String returns "primary", "replica" or "reject".
func (t Target) String() string {
	switch t {
	case TargetPrimary:
		return "primary"
	case TargetReplica:
		return "replica"
	case TargetReject:
		return "reject"
	}
	return "none"
}

// ErrRejected is the MySQL error number the proxy sends for TargetReject
// (ER_UNKNOWN_ERROR with SQLSTATE HY000; the message says why).
const ErrRejected = 1105

// Reason says why a statement went where it went (logs, metrics, stats).
type Reason uint8

// Reasons.
const (
	ReasonRead        Reason = iota // plain read on a replica
	ReasonWrite                     // not a plain read
	ReasonTransaction               // inside a transaction or autocommit off
	ReasonSameAsLast                // FOUND_ROWS, SHOW WARNINGS ... follow the previous statement
	ReasonHint                      // vigil:primary / vigil:replica comment
	ReasonRule                      // a query rule
	ReasonUser                      // the user's default route
	ReasonPinned                    // temporary tables, LOCK TABLES or session-changing multi-statement
	ReasonCausal                    // no replica has the session's last write yet
	ReasonNoReplica                 // no healthy replica within the lag limit
)

var reasonNames = [...]string{"read", "write", "transaction", "same_as_last", "hint", "rule",
	"user", "pinned", "causal", "no_replica"}

// String returns the reason's snake_case name.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Decision is Route's answer for one statement.
type Decision struct {
	// Target is where to run the statement.
	Target Target
	// Backend is the node name: the chosen replica for TargetReplica, the
	// snapshot's primary for TargetPrimary (empty: no primary right now).
	Backend string
	// Replay: a session command. After it succeeds on the primary, the
	// proxy records the text and replays it on every other backend
	// connection of the session before that connection's next statement.
	Replay bool
	// WaitGTID, for TargetReplica: the GTID position the replica must have
	// applied before the read. Empty: no wait. See WaitSQL.
	WaitGTID string
	// WaitTimeout bounds the wait.
	WaitTimeout time.Duration
	// Message is the error text for TargetReject.
	Message string
	// Reason says why.
	Reason Reason
	// Rule is the name of the query rule that decided, if any.
	Rule string
}

// WaitSQL returns the statement the proxy runs on the replica before the
// read when WaitGTID is set. Its single result value is 0 when the replica
// has applied the position in time; anything else (or an error) means: run
// the read on the primary. flavor is "mariadb" or "mysql".
func (d Decision) WaitSQL(flavor string) string {
	secs := strconv.FormatFloat(d.WaitTimeout.Seconds(), 'f', 3, 64)
	if flavor == "mysql" {
		return fmt.Sprintf("SELECT WAIT_FOR_EXECUTED_GTID_SET('%s', %s)", d.WaitGTID, secs)
	}
	return fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', %s)", d.WaitGTID, secs)
}

// Server status flags the router reads from OK/EOF packets.
const (
	StatusInTrans    uint16 = 0x0001
	StatusAutocommit uint16 = 0x0002
)

// Result is what the proxy tells Session.Observe after a statement.
type Result struct {
	// Target is where the statement really ran (TargetPrimary after a
	// failed causal wait or a fallback), or TargetReject.
	Target Target
	// Backend is the node name it ran on.
	Backend string
	// Status is the server status of the final OK/EOF packet; valid when
	// StatusKnown (an ERR packet carries none).
	Status      uint16
	StatusKnown bool
	// LastGTID is the last_gtid (MariaDB) or own GTID (MySQL) reported in
	// the OK packet's session-state information; nil if none. Observe
	// copies it.
	LastGTID []byte
	// InsertID is the OK packet's last insert id.
	InsertID uint64
	// Rows is rows sent (result set) or affected (OK).
	Rows uint64
	// Err is true when the server (or the proxy) answered with an error.
	Err     bool
	ErrCode uint16
	// Duration is from sending the statement to the end of its result.
	Duration time.Duration
}
