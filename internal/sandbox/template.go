package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// binaries are the MariaDB programs the sandbox runs.
type binaries struct {
	mariadbd  string
	installDB string
	version   string // first line of `mariadbd --version`
}

func findBinaries(ctx context.Context, look func(string) (string, error)) (binaries, error) {
	var b binaries
	var err error
	if b.mariadbd, err = look("mariadbd"); err != nil {
		return b, ErrMariaDBMissing
	}
	if b.installDB, err = look("mariadb-install-db"); err != nil {
		return b, ErrMariaDBMissing
	}
	out, err := exec.CommandContext(ctx, b.mariadbd, "--version").Output()
	if err != nil {
		return b, fmt.Errorf("run %s --version: %w", b.mariadbd, err)
	}
	b.version = strings.TrimSpace(string(out))
	return b, nil
}

// templateDir returns a datadir initialised by mariadb-install-db for this
// mariadbd version, creating it once under cacheDir. A lock file serialises
// creation across processes; the directory appears atomically (rename).
func templateDir(ctx context.Context, b binaries, cacheDir string) (string, error) {
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "vigil")
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return "", fmt.Errorf("create template cache: %w", err)
	}
	sum := sha256.Sum256([]byte(b.mariadbd + "\n" + b.version + "\n" + templateRecipe))
	dir := filepath.Join(cacheDir, "mariadb-template-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "mysql")); err == nil {
		return dir, nil
	}
	unlock, err := lockFile(dir + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "mysql")); err == nil {
		return dir, nil
	}
	tmp := fmt.Sprintf("%s.tmp%d", dir, os.Getpid())
	_ = os.RemoveAll(tmp)
	if err := installDB(ctx, b, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("publish template datadir: %w", err)
	}
	return dir, nil
}

// templateRecipe is part of the cache key: change it when installDB changes.
const templateRecipe = "v1 --auth-root-authentication-method=normal --skip-test-db log16M"

func installDB(ctx context.Context, b binaries, dir string) error {
	args := []string{"--no-defaults", "--datadir=" + dir, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--innodb-log-file-size=16M", "--innodb-buffer-pool-size=32M"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	out, err := exec.CommandContext(ctx, b.installDB, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mariadb-install-db failed: %w: %s", err, tail(string(out), 5))
	}
	return nil
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// copyTree copies the regular files and directories of src into dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
}

// copyFile copies src to dst, leaving holes where src has all-zero 64 KiB
// blocks: most of a fresh datadir (redo log, system tablespace) is zeros,
// and not writing them makes a copy several times faster.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o660)
	if err != nil {
		return err
	}
	size, err := copySparse(out, in)
	if err == nil {
		err = out.Truncate(size)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func copySparse(out *os.File, in io.Reader) (int64, error) {
	buf, zero := make([]byte, 64<<10), make([]byte, 64<<10)
	var size int64
	for {
		n, rerr := io.ReadFull(in, buf)
		if n > 0 {
			var werr error
			if bytes.Equal(buf[:n], zero[:n]) {
				_, werr = out.Seek(int64(n), io.SeekCurrent)
			} else {
				_, werr = out.Write(buf[:n])
			}
			if werr != nil {
				return size, werr
			}
			size += int64(n)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			return size, nil
		}
		if rerr != nil {
			return size, rerr
		}
	}
}

// tail returns the last n non-empty lines of s, joined by " | ".
func tail(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// tailFile is tail of a file's last 64 KiB; "" if it cannot be read.
func tailFile(path string, n int) string { return tailFileFrom(path, 0, n) }

// tailFileFrom is tailFile of what the file holds after offset from.
func tailFileFrom(path string, from int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		from = max(from, st.Size()-65536)
	}
	if from > 0 {
		_, _ = f.Seek(from, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return tail(string(data), n)
}
