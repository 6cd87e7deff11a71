// Package exporterconfig writes the `plowline exporter` configuration for a
// deployed plowline stack from the stack's outputs: GitLab's default flow
// graph (config.Default) with the topology, region and bucket the stack
// created and the S3 layout its delivery streams write.
package exporterconfig

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/plowline/plowline/deploy/stack"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/s3count"
)

// ReadOutputs reads stack outputs from either the file `cdk deploy
// --outputs-file` writes ({"<stack>": {"Key": "value"}}) or the JSON of `aws
// cloudformation describe-stacks` ({"Stacks": [{"Outputs": [{"OutputKey":
// ..., "OutputValue": ...}]}]}). stackName picks the stack in the former.
func ReadOutputs(r io.Reader, stackName string) (map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading stack outputs: %w", err)
	}
	var described struct {
		Stacks []struct {
			StackName string `json:"StackName"`
			Outputs   []struct {
				OutputKey, OutputValue string
			} `json:"Outputs"`
		} `json:"Stacks"`
	}
	if err := json.Unmarshal(data, &described); err == nil && len(described.Stacks) > 0 {
		for _, s := range described.Stacks {
			if len(described.Stacks) > 1 && s.StackName != stackName {
				continue
			}
			out := map[string]string{}
			for _, o := range s.Outputs {
				out[o.OutputKey] = o.OutputValue
			}
			return out, nil
		}
		return nil, fmt.Errorf("stack outputs: no stack named %q among the described stacks", stackName)
	}
	var byStack map[string]map[string]string
	if err := json.Unmarshal(data, &byStack); err != nil {
		return nil, fmt.Errorf("stack outputs: neither `cdk deploy --outputs-file` nor `aws cloudformation describe-stacks` JSON: %w", err)
	}
	out, ok := byStack[stackName]
	if !ok {
		names := make([]string, 0, len(byStack))
		for n := range byStack {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("stack outputs: no stack %q (the file has %v)", stackName, names)
	}
	return out, nil
}

// Build returns the exporter configuration for the stack whose outputs are
// given. The flow graph is config.Default's, which names GitLab's
// resources: the stack's names must be those (they are, unless the stack
// was built from another topology), or Build says which differs.
func Build(outputs map[string]string) (config.Config, error) {
	get := func(key string) (string, error) {
		v, ok := outputs[key]
		if !ok || v == "" {
			return "", fmt.Errorf("stack outputs have no %s (is this a plowline stack?)", key)
		}
		return v, nil
	}
	c := config.Default()
	want := c.Topology
	t := config.Topology{GoodTable: want.GoodTable, BadTable: want.BadTable}
	var err error
	if t.Region, err = get(stack.OutputRegion); err != nil {
		return config.Config{}, err
	}
	if t.Bucket, err = get(stack.OutputBucket); err != nil {
		return config.Config{}, err
	}
	names, err := stack.Resolve(want)
	if err != nil {
		return config.Config{}, err
	}
	for _, role := range []string{stack.RawGood, stack.RawBad, stack.EnrichedGood, stack.EnrichedBad} {
		name, err := get(stack.OutputStreamPrefix + role)
		if err != nil {
			return config.Config{}, err
		}
		if name != names.Streams[role].Name {
			return config.Config{}, fmt.Errorf("stream %s is %q in the stack but %q in the exporter's default graph: edit the generated configuration by hand", role, name, names.Streams[role].Name)
		}
	}
	t.Streams = want.Streams
	for _, f := range stack.Functions {
		name, err := get(stack.OutputFunctionPrefix + f.Role)
		if err != nil {
			return config.Config{}, err
		}
		if name != names.Functions[f.Role] {
			return config.Config{}, fmt.Errorf("function %s is %q in the stack but %q in the exporter's default graph", f.Role, name, names.Functions[f.Role])
		}
		t.Functions = append(t.Functions, name)
	}
	for _, d := range want.DeliveryStreams {
		var role string
		for r, s := range names.Streams {
			if s.Name == d.Source {
				role = r
			}
		}
		name, err := get(stack.OutputDeliveryPrefix + role)
		if err != nil {
			return config.Config{}, err
		}
		prefix, err := get(stack.OutputDeliveryPrefixKey + role)
		if err != nil {
			return config.Config{}, err
		}
		if name != d.Name || prefix != d.Prefix {
			return config.Config{}, fmt.Errorf("delivery stream of %s is %q writing %q in the stack but %q writing %q in the exporter's default graph", d.Source, name, prefix, d.Name, d.Prefix)
		}
		t.DeliveryStreams = append(t.DeliveryStreams, d)
	}
	// The stack fronts the collector with a function URL, not a load balancer.
	t.LoadBalancers = nil
	c.Topology = t
	found := false
	for i, s := range c.Sources {
		if s.Kind != config.KindS3 && s.Kind != config.KindCloudWatch {
			continue
		}
		settings := map[string]any{}
		if err := s.Settings.Decode(&settings); err != nil {
			return config.Config{}, fmt.Errorf("%s source settings: %w", s.Name, err)
		}
		settings["region"] = t.Region
		if s.Kind == config.KindS3 {
			settings["bucket"] = t.Bucket
			settings["layout"] = s3count.LayoutCollectorPartitions
			found = true
		}
		c.Sources[i].Settings = config.EncodeNode(settings)
	}
	if !found {
		return config.Config{}, fmt.Errorf("the exporter's default graph has no s3 source")
	}
	if err := c.Validate(); err != nil {
		return config.Config{}, fmt.Errorf("generated exporter configuration: %w", err)
	}
	return c, nil
}
