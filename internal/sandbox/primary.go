package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Primaries returns the names of the running servers that replicate from
// no one (normally exactly one: db1 until a failover).
func (c *Cluster) Primaries(ctx context.Context) ([]string, error) {
	var names []string
	for _, n := range c.nodes {
		if c.PID(n.Name) == 0 {
			continue
		}
		primary, err := c.isPrimary(ctx, n.Name)
		if err != nil {
			return nil, err
		}
		if primary {
			names = append(names, n.Name)
		}
	}
	return names, nil
}

func (c *Cluster) isPrimary(ctx context.Context, name string) (bool, error) {
	db, err := sql.Open("mysql", c.AdminDSN(name))
	if err != nil {
		return false, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := slaveStatus(ctx, db)
	if err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	return r == nil, nil
}

// afterStart applies the runtime settings of the primary, which no config
// file carries (every my.cnf says read_only=ON and semi-sync master OFF):
// with SemiSync, the master side of semi-sync; with PrimaryWritable,
// read_only=OFF. "The primary" is the one running server that replicates
// from no one, so a cluster that has failed over keeps one writer.
func (c *Cluster) afterStart(ctx context.Context) error {
	if !c.st.SemiSync && !c.opts.PrimaryWritable {
		return nil
	}
	prim, err := c.Primaries(ctx)
	if err != nil {
		return err
	}
	if c.st.SemiSync {
		for _, name := range prim {
			if err := c.exec(ctx, name, "SET GLOBAL rpl_semi_sync_master_enabled=ON"); err != nil {
				return fmt.Errorf("enable semi-sync master: %w", err)
			}
		}
	}
	if !c.opts.PrimaryWritable {
		return nil
	}
	if len(prim) != 1 {
		return fmt.Errorf("open the primary for writes: want exactly one running server that replicates from no one, found %v", prim)
	}
	return c.exec(ctx, prim[0], "SET GLOBAL read_only=OFF")
}
