// Package failover is the manager's decision and action layer: detection
// of a dead primary (Detector), candidate choice (Choose), and the Engine
// that follows a topology.Monitor, keeps the cluster model with epochs,
// fails over, switches over, fences and rejoins.
//
// # Rules it keeps
//
//   - Dead means dead: the primary is declared dead only after FailCount
//     consecutive failed probes AND every replica that can vouch confirms it
//     lost the primary (IO thread not connected, an IO error, nothing
//     received for three heartbeat periods) or is unreachable itself.
//     Unreachable-but-replicating is reported, never failed over.
//   - Fence before promote: the engine first publishes an epoch with no
//     primary (proxies hold writes), fences the old primary in the
//     background (read_only=ON, kill client connections), stops every
//     replica's IO thread, chooses, waits for the relay log, promotes, and
//     publishes the next epoch naming the new primary.
//   - Epochs never go back: State (epoch, primary, operation in progress,
//     demoted and quarantined servers) is saved atomically before anything
//     is published. A manager restarted mid-failover completes it.
//   - One writer: any writable server that is not the primary is fenced; a
//     demoted primary that wakes up writable (SIGSTOP, partition) is shut
//     down (FenceShutdown). With semi-sync (AFTER_SYNC, a long timeout) such
//     a server cannot even acknowledge a write before that, because its
//     replicas were moved away.
//   - Rejoin only what fits: a returning demoted primary rejoins as a
//     replica (MASTER_DEMOTE_TO_SLAVE) only if its binlog position is
//     contained in the new primary's position at promotion (the fork
//     point); otherwise it is quarantined with its extra GTIDs reported.
//   - Anti-flap: after a failover no automatic failover runs for
//     FailoverBlock unless acknowledged (Ack); operator commands bypass it.
//
// The package talks MariaDB (GTID domain-server-seq, SHOW SLAVE STATUS,
// MASTER_GTID_WAIT, MASTER_DEMOTE_TO_SLAVE); MySQL is not supported yet.
package failover
