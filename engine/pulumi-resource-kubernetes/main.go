// pulumi-resource-kubernetes for deploypaths' engine loop: a render-only stand-in for the upstream
// Kubernetes provider, whose Go module (github.com/pulumi/pulumi-kubernetes/provider/v4) the module
// proxy does not serve at any version. It implements exactly what `kubernetes.mode: render` uses:
// a provider configured with renderYamlToDirectory writes each object's manifest to
// <dir>/1-manifest/<kind>-<namespace>-<name>.yaml on create and update and removes it on delete, and
// reports the object's inputs as its outputs. It refuses any other configuration, so it can never be
// mistaken for a provider that talks to a cluster. Unlike upstream, values marked secret are written
// as "[secret]": rendered files are for review and GitOps diffs, never a place for credentials.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"gopkg.in/yaml.v3"
)

// The version the pinned pulumi-kubernetes Python package asks the engine for.
const version = "4.34.2"

const directoryKey = "renderYamlToDirectory"

type renderer struct {
	pulumirpc.UnimplementedResourceProviderServer
	directory string
}

func main() {
	logging.InitLogging(false, 0, false)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{Init: func(srv *grpc.Server) error {
		pulumirpc.RegisterResourceProviderServer(srv, &renderer{})
		return nil
	}})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the provider's RPC server: %w", err))
	}
	// The engine reads the port from the first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("provider RPC stopped serving: %w", err))
	}
}

var marshalOptions = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, marshalOptions)
}

func (r *renderer) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (r *renderer) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (r *renderer) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if reflect.DeepEqual(olds[directoryKey], news[directoryKey]) {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: []string{directoryKey}}, nil
}

func (r *renderer) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	directory := req.GetVariables()["kubernetes:config:"+directoryKey]
	if args := req.GetArgs(); args != nil {
		if v, ok := args.GetFields()[directoryKey]; ok && v.GetStringValue() != "" {
			directory = v.GetStringValue()
		}
	}
	if directory == "" {
		return nil, errors.New("this pulumi-resource-kubernetes is deploypaths' render-only stand-in: " +
			"it needs renderYamlToDirectory and cannot reach a cluster; install the upstream provider for that")
	}
	r.directory = directory
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (r *renderer) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// Diff compares the new inputs with the old ones. A changed name or namespace, or a changed Job
// (whose pod template Kubernetes refuses to update), is a replacement, as upstream does.
func (r *renderer) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldStruct := req.GetOldInputs()
	if oldStruct == nil {
		oldStruct = req.GetOlds()
	}
	olds, err := unmarshal(oldStruct)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, key := range keys(olds, news) {
		if !olds[resource.PropertyKey(key)].DeepEquals(news[resource.PropertyKey(key)]) {
			changed = append(changed, key)
		}
	}
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	var replaces []string
	identity := func(m resource.PropertyMap) string { return name(m) + "/" + namespace(m) }
	if identity(olds) != identity(news) {
		replaces = append(replaces, "metadata")
	}
	if strings.HasSuffix(req.GetType(), ":Job") && contains(changed, "spec") {
		replaces = append(replaces, "spec")
	}
	return &pulumirpc.DiffResponse{
		Changes:  pulumirpc.DiffResponse_DIFF_SOME,
		Diffs:    changed,
		Replaces: replaces,
	}, nil
}

func (r *renderer) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if !req.GetPreview() {
		if err := r.write(inputs); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.CreateResponse{Id: id(inputs), Properties: req.GetProperties()}, nil
}

func (r *renderer) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	inputs, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if !req.GetPreview() {
		if err := r.write(inputs); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.UpdateResponse{Properties: req.GetNews()}, nil
}

func (r *renderer) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if err := os.Remove(r.path(state)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (r *renderer) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (r *renderer) path(object resource.PropertyMap) string {
	kind := strings.ToLower(str(object["kind"]))
	parts := []string{kind}
	if ns := namespace(object); ns != "" {
		parts = append(parts, ns)
	}
	parts = append(parts, name(object))
	return filepath.Join(r.directory, "1-manifest", strings.Join(parts, "-")+".yaml")
}

func (r *renderer) write(object resource.PropertyMap) error {
	body := plain(resource.NewObjectProperty(object)).(map[string]any)
	var out bytes.Buffer
	fmt.Fprintf(&out, "apiVersion: %s\nkind: %s\n", body["apiVersion"], body["kind"])
	delete(body, "apiVersion")
	delete(body, "kind")
	encoder := yaml.NewEncoder(&out)
	encoder.SetIndent(2)
	if err := encoder.Encode(body); err != nil {
		return err
	}
	target := r.path(object)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	return os.WriteFile(target, out.Bytes(), 0o644)
}

// plain turns property values into YAML-ready values, masking secrets.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return "[secret]"
	case v.IsComputed() || v.IsOutput() && !v.OutputValue().Known:
		return "[unknown]"
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			if !e.IsNull() {
				m[string(k)] = plain(e)
			}
		}
		return m
	case v.IsArray():
		items := []any{}
		for _, e := range v.ArrayValue() {
			items = append(items, plain(e))
		}
		return items
	case v.IsNumber():
		n := v.NumberValue()
		if n == float64(int64(n)) {
			return int64(n)
		}
		return n
	default:
		return v.V
	}
}

func metadata(m resource.PropertyMap) resource.PropertyMap {
	if md, ok := m["metadata"]; ok && md.IsObject() {
		return md.ObjectValue()
	}
	return resource.PropertyMap{}
}

func name(m resource.PropertyMap) string      { return str(metadata(m)["name"]) }
func namespace(m resource.PropertyMap) string { return str(metadata(m)["namespace"]) }
func id(m resource.PropertyMap) string {
	if ns := namespace(m); ns != "" {
		return ns + "/" + name(m)
	}
	return name(m)
}

func str(v resource.PropertyValue) string {
	if v.IsString() {
		return v.StringValue()
	}
	if v.IsSecret() {
		return str(v.SecretValue().Element)
	}
	return ""
}

func keys(maps ...resource.PropertyMap) []string {
	seen := map[string]bool{}
	for _, m := range maps {
		for k := range m {
			seen[string(k)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(items []string, item string) bool {
	for _, i := range items {
		if i == item {
			return true
		}
	}
	return false
}
