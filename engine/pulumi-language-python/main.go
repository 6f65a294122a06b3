// pulumi-language-python for deploypaths: a small stand-in for the upstream language host, whose Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) the module proxy does not serve. It runs
// programs through sdk/v3's pulumi-language-python-exec script and resolves the virtualenv with sdk/v3's
// python/toolchain package, so it behaves like upstream for `runtime: {name: python, options: {virtualenv: ...}}`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const version = "3.259.0"

// Exit code with which pulumi-language-python-exec says it already showed the error to the user.
const bailExitCode = 32

// Prints the pulumi-plugin.json path of every installed Pulumi package (top-level module dir only).
const findPluginJSON = `import importlib.metadata as m
for d in m.distributions():
    for f in d.files or ():
        if f.name == "pulumi-plugin.json" and len(f.parts) == 2:
            print(d.locate_file(f))`

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine string
	exec   string
}

func tc(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	o := info.GetOptions().AsMap()
	if v, ok := o["virtualenv"].(string); ok {
		opts.Virtualenv = v
	}
	switch o["toolchain"] {
	case "pip":
		opts.Toolchain = toolchain.Pip
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	case "uv":
		opts.Toolchain = toolchain.Uv
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engine = req.EngineAddress
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	t, err := tc(req.Info)
	if err != nil {
		return nil, err
	}
	if err := t.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	paths, err := pluginJSONPaths(ctx, t, req.Info)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, path := range paths {
		p, err := plugin.LoadPulumiPluginJSON(path)
		if err != nil {
			return nil, err
		}
		if !p.Resource || p.Name == "" || p.Version == "" {
			continue
		}
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Kind: "resource", Name: p.Name, Version: "v" + strings.TrimPrefix(p.Version, "v"), Server: p.Server,
		})
	}
	return resp, nil
}

// pluginJSONPaths finds every installed package's top-level pulumi-plugin.json. With a pip virtualenv it reads
// site-packages directly (a glob, milliseconds); otherwise it asks the interpreter's package metadata, which
// costs an interpreter start and a scan of every distribution (about 0.2 s before each preview and update).
func pluginJSONPaths(ctx context.Context, t toolchain.Toolchain, info *pulumirpc.ProgramInfo) ([]string, error) {
	o := info.GetOptions().AsMap()
	venv, _ := o["virtualenv"].(string)
	if venv != "" && (o["toolchain"] == nil || o["toolchain"] == "pip") {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(info.GetRootDirectory(), venv)
		}
		return filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages", "*", "pulumi-plugin.json"))
	}
	cmd, err := t.Command(ctx, "-c", findPluginJSON)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing Pulumi packages with %s: %w", cmd.Path, err)
	}
	return strings.Fields(string(out)), nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	t, err := tc(req.Info)
	if err != nil {
		return nil, err
	}
	if err := t.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	args := []string{"-u", h.exec}
	for _, kv := range [][2]string{
		{"monitor", req.MonitorAddress}, {"engine", h.engine}, {"project", req.Project}, {"stack", req.Stack},
		{"pwd", req.Pwd}, {"dry_run", fmt.Sprint(req.DryRun)}, {"parallel", fmt.Sprint(req.Parallel)},
		{"organization", req.Organization}, {"root_directory", req.Info.GetRootDirectory()},
	} {
		if kv[1] != "" {
			args = append(args, "--"+kv[0], kv[1])
		}
	}
	args = append(args, filepath.Join(req.Info.GetProgramDirectory(), req.Info.GetEntryPoint()))
	args = append(args, req.Args...)

	cmd, err := t.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	// The SDK expects a JSON object and a JSON list here, never null.
	config, secretKeys := []byte("{}"), []byte("[]")
	if len(req.Config) > 0 {
		config, _ = json.Marshal(req.Config)
	}
	if len(req.ConfigSecretKeys) > 0 {
		secretKeys, _ = json.Marshal(req.ConfigSecretKeys)
	}
	cmd.Env = append(environ(cmd), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	cmd.Dir = req.Info.GetProgramDirectory()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && exitErr.ExitCode() == bailExitCode {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		if errors.As(err, &exitErr) {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d",
				exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Python plugin directory (e.g. a policy pack: PulumiPolicy.yaml + __main__.py).
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	t, err := tc(req.Info)
	if err != nil {
		return err
	}
	cmd, err := t.Command(server.Context(), append([]string{"-u", req.Info.GetProgramDirectory()}, req.Args...)...)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Dir, cmd.Env = req.Pwd, append(environ(cmd), req.Env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = exitErr.ExitCode()
	}
	if err := closer.Close(); err != nil {
		return err
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{
		Exitcode: int32(code), //nolint:gosec
	}})
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	t, err := tc(req.Info)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.IsTerminal)
	if err != nil {
		return err
	}
	defer closer.Close()
	return t.InstallDependencies(server.Context(), req.Info.GetProgramDirectory(), req.UseLanguageVersionTools,
		true, stdout, stderr)
}

// About answers with the interpreter and its version only (what the CLI records with every update), from one
// short interpreter start: the toolchain's About also runs `python -m pip --version` (0.4 s of importing pip)
// before every preview and update, for a pip version this host never returned.
func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	t, err := tc(req.Info)
	if err != nil {
		return nil, err
	}
	cmd, err := t.Command(ctx, "-c", "import platform, sys; print(sys.executable); print(platform.python_version())")
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("asking %s for its version: %w", cmd.Path, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("asking %s for its version: unexpected answer %q", cmd.Path, out)
	}
	return &pulumirpc.AboutResponse{Executable: lines[0], Version: lines[1]}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	t, err := tc(req.Info)
	if err != nil {
		return nil, err
	}
	deps, err := t.ListPackages(ctx, req.TransitiveDependencies)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, d := range deps {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return resp, nil
}

// toolchain commands leave Env nil when no virtualenv is used, which would mean "inherit" until we append to it.
func environ(cmd *exec.Cmd) []string {
	if cmd.Env == nil {
		return os.Environ()
	}
	return cmd.Env
}

func main() {
	logging.InitLogging(false, 0, false)
	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(err)
	}
	h := &host{exec: filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")}
	// The engine passes its address as the last positional argument (flags such as -tracing may precede it).
	if n := len(os.Args); n > 1 && !strings.HasPrefix(os.Args[n-1], "-") {
		h.engine = os.Args[n-1]
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{Init: func(srv *grpc.Server) error {
		pulumirpc.RegisterLanguageRuntimeServer(srv, h)
		return nil
	}})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}
