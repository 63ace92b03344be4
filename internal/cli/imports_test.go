package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// rolePackages are the packages that must not import one another: they meet
// only through small interfaces and are wired together in this package.
var rolePackages = []string{
	"vigil/internal/proxy",
	"vigil/internal/failover",
	"vigil/internal/manager",
	"vigil/internal/vip",
	"vigil/internal/sandbox",
}

func TestRolePackagesDoNotImportEachOther(t *testing.T) {
	for _, pkg := range rolePackages {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Errorf("go list -deps %s: %v (renamed? update rolePackages)", pkg, err)
			continue
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, other := range rolePackages {
				if dep == other && other != pkg && !strings.HasPrefix(pkg, other+"/") {
					t.Errorf("%s imports %s; roles must meet through interfaces wired in internal/cli", pkg, other)
				}
			}
			if dep == "vigil/internal/cli" {
				t.Errorf("%s imports the wiring package internal/cli", pkg)
			}
		}
	}
}
