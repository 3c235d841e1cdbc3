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
			var cached cachedToolchain
			if json.Unmarshal(data, &cached) == nil && cached.Version != "" {
				// What go env said is cached; whether the C compiler is
				// still there is not: it is looked up on every run.
				if err := checkCgo(cached.CgoEnabled, cached.CC); err != nil {
					return Toolchain{}, err
				}
				tc.Version = cached.Version
				return tc, nil
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
	if err := checkCgo(ge.CGO_ENABLED, ge.CC); err != nil {
		return Toolchain{}, err
	}
	if key != "" {
		if data, err := json.Marshal(cachedToolchain{Version: tc.Version, CgoEnabled: ge.CGO_ENABLED, CC: ge.CC}); err == nil {
			os.MkdirAll(cacheDir, 0o755)
			os.WriteFile(filepath.Join(cacheDir, "toolchain-"+key+".json"), data, 0o644)
		}
	}
	return tc, nil
}

// cachedToolchain is what `go env` said, cached per go binary and the
// environment that decides its answers.
type cachedToolchain struct {
	Version    string
	CgoEnabled string
	CC         string
}

// checkCgo checks that the race detector can work: cgo on, and the C
// compiler go env names is installed.
func checkCgo(enabled, cc string) error {
	if enabled != "1" {
		return &SetupError{"the race detector needs cgo, and cgo is off (CGO_ENABLED=0, or no C compiler was found when Go decided its default): install a C compiler (`apt install gcc`, `xcode-select --install`), then run `export CGO_ENABLED=1` (or `go env -w CGO_ENABLED=1`)"}
	}
	fields := strings.Fields(cc)
	if len(fields) == 0 {
		fields = []string{"gcc"}
	}
	if _, err := exec.LookPath(fields[0]); err != nil {
		return &SetupError{fmt.Sprintf("the race detector needs a C compiler and %q is not installed: install gcc (`apt install gcc`) or clang, or point CC at one", fields[0])}
	}
	return nil
}

// cacheKey identifies the go binary and every input that changes what go
// env answers: the toolchain selection, cgo's switch, the compiler named,
// and PATH (where Go looks for a C compiler to pick cgo's default), and
// the user's go env file.
func cacheKey(goPath string) string {
	real, err := filepath.EvalSymlinks(goPath)
	if err != nil {
		return ""
	}
	st, err := os.Stat(real)
	if err != nil {
		return ""
	}
	envFile := ""
	if dir, err := os.UserConfigDir(); err == nil {
		if est, err := os.Stat(filepath.Join(dir, "go", "env")); err == nil {
			envFile = fmt.Sprintf("%d|%d", est.Size(), est.ModTime().UnixNano())
		}
	}
	parts := []string{real, fmt.Sprint(st.Size()), fmt.Sprint(st.ModTime().UnixNano()), envFile}
	for _, k := range []string{"GOROOT", "GOTOOLCHAIN", "CGO_ENABLED", "CC", "PATH", "GOENV"} {
		parts = append(parts, k+"="+os.Getenv(k))
	}
	return fmt.Sprintf("%x", hashString(strings.Join(parts, "\x00")))
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
