package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Toolchain is the Go toolchain the checker drives.
type Toolchain struct {
	Go      string // path of the go command
	Version string // e.g. "go1.26.8"
	Env     []string
}

// A SetupError is a problem with the machine, not with the learner's code,
// and says how to fix it.
type SetupError struct{ Msg string }

func (e *SetupError) Error() string { return e.Msg }

// FindToolchain locates go and checks that -race can work (cgo and a C
// compiler). The go command's answers are cached in cacheDir, keyed by the
// go binary, so later calls cost one stat.
func FindToolchain(ctx context.Context, cacheDir string) (Toolchain, error) {
	goPath, err := exec.LookPath("go")
	if err != nil {
		return Toolchain{}, &SetupError{"the go command is not on PATH: install Go 1.25 or newer (https://go.dev/dl) and make sure `go version` works in this shell"}
	}
	env := append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	tc := Toolchain{Go: goPath, Env: env}
	key := cacheKey(goPath)
	if key != "" {
		if data, err := os.ReadFile(filepath.Join(cacheDir, "toolchain-"+key+".json")); err == nil {
			var cached Toolchain
			if json.Unmarshal(data, &cached) == nil && cached.Version != "" && envAgrees() {
				cached.Env = env
				cached.Go = goPath
				return cached, nil
			}
		}
	}
	out, err := goOutput(ctx, goPath, "env", "-json", "GOVERSION", "CGO_ENABLED", "CC")
	if err != nil {
		return Toolchain{}, &SetupError{"`go env` failed: " + err.Error()}
	}
	var ge struct{ GOVERSION, CGO_ENABLED, CC string }
	if err := json.Unmarshal(out, &ge); err != nil {
		return Toolchain{}, &SetupError{"read `go env -json`: " + err.Error()}
	}
	tc.Version = ge.GOVERSION
	if !atLeast(ge.GOVERSION, 1, 25) {
		return Toolchain{}, &SetupError{fmt.Sprintf("Racelab needs Go 1.25 or newer (for testing/synctest); this is %s: install a newer Go from https://go.dev/dl", ge.GOVERSION)}
	}
	if ge.CGO_ENABLED != "1" {
		return Toolchain{}, &SetupError{"the race detector needs cgo, and cgo is off (CGO_ENABLED=0): run `export CGO_ENABLED=1` (or `go env -w CGO_ENABLED=1`) and make sure a C compiler is installed (`apt install gcc`, `xcode-select --install`)"}
	}
	cc := strings.Fields(ge.CC)
	if len(cc) == 0 {
		cc = []string{"gcc"}
	}
	if _, err := exec.LookPath(cc[0]); err != nil {
		return Toolchain{}, &SetupError{fmt.Sprintf("the race detector needs a C compiler and %q is not installed: install gcc (`apt install gcc`) or clang, or point CC at one", cc[0])}
	}
	if key != "" {
		if data, err := json.Marshal(Toolchain{Version: tc.Version}); err == nil {
			os.MkdirAll(cacheDir, 0o755)
			os.WriteFile(filepath.Join(cacheDir, "toolchain-"+key+".json"), data, 0o644)
		}
	}
	return tc, nil
}

// envAgrees reports whether the environment still allows a cached answer:
// a CGO_ENABLED=0 in this shell must be caught even when an earlier shell
// had cgo on.
func envAgrees() bool { return os.Getenv("CGO_ENABLED") != "0" }

func cacheKey(goPath string) string {
	real, err := filepath.EvalSymlinks(goPath)
	if err != nil {
		return ""
	}
	st, err := os.Stat(real)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%x", hashString(fmt.Sprintf("%s|%d|%d|%s|%s", real, st.Size(), st.ModTime().UnixNano(), os.Getenv("GOROOT"), os.Getenv("GOTOOLCHAIN"))))
}

func goOutput(ctx context.Context, goPath string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goPath, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, errors.New(msg)
		}
		return nil, err
	}
	return out, nil
}

// atLeast reports whether a version such as "go1.26.8" or "go1.25rc1" is
// at least major.minor.
func atLeast(v string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "go"), "%d.%d", &ma, &mi); err != nil {
		return true // a development toolchain: let the build speak
	}
	return ma > major || ma == major && mi >= minor
}
