package exporterconfig

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/s3count"
)

// The committed template (kept current by the stack package's test) is the
// stack as CloudFormation deploys it; these tests read it instead of
// synthesizing again.
const templatePath = "../template/Plowline.template.json"

type template struct {
	Resources map[string]struct {
		Type       string
		Properties map[string]any
	}
	Outputs map[string]struct{ Value any }
}

func readTemplate(t *testing.T) template {
	t.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatalf("committed template: %v", err)
	}
	var tpl template
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatalf("committed template: %v", err)
	}
	return tpl
}

// deployedOutputs plays CloudFormation: literal output values as they are,
// the region and the bucket's generated name resolved to fixed values.
func deployedOutputs(t *testing.T, tpl template) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, o := range tpl.Outputs {
		switch v := o.Value.(type) {
		case string:
			out[k] = v
		case map[string]any:
			r, _ := v["Ref"].(string)
			switch {
			case r == "AWS::Region":
				out[k] = "eu-west-1"
			case r != "" && tpl.Resources[r].Type == "AWS::S3::Bucket":
				out[k] = "plowline-bucket83908e77-1x2y3z"
			default:
				out[k] = "resolved-by-cloudformation"
			}
		}
	}
	return out
}

func names(t *testing.T, tpl template, typ, prop string) []string {
	t.Helper()
	var out []string
	for _, r := range tpl.Resources {
		if r.Type == typ {
			s, ok := r.Properties[prop].(string)
			if !ok {
				t.Fatalf("%s has no literal %s: %v", typ, prop, r.Properties[prop])
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); sort.Strings(s); return s }

func TestBuildMatchesTheStack(t *testing.T) {
	tpl := readTemplate(t)
	c, err := Build(deployedOutputs(t, tpl))
	if err != nil {
		t.Fatal(err)
	}
	// Round trip through YAML, as `plowline exporter --config` reads it.
	y, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err = config.Parse(bytes.NewReader(y))
	if err != nil {
		t.Fatalf("generated configuration does not load: %v\n%s", err, y)
	}
	top := c.Topology
	if top.Region != "eu-west-1" || top.Bucket != "plowline-bucket83908e77-1x2y3z" || len(top.LoadBalancers) != 0 {
		t.Errorf("topology region %q bucket %q load balancers %v", top.Region, top.Bucket, top.LoadBalancers)
	}
	var streams, deliveries []string
	for _, s := range top.Streams {
		streams = append(streams, s.Name)
	}
	for _, d := range top.DeliveryStreams {
		deliveries = append(deliveries, d.Name)
	}
	if got, want := sorted(streams), names(t, tpl, "AWS::Kinesis::Stream", "Name"); !slices.Equal(got, want) {
		t.Errorf("exporter streams %v, stack streams %v", got, want)
	}
	if got, want := sorted(top.Functions), names(t, tpl, "AWS::Lambda::Function", "FunctionName"); !slices.Equal(got, want) {
		t.Errorf("exporter functions %v, stack functions %v", got, want)
	}
	if got, want := sorted(deliveries), names(t, tpl, "AWS::KinesisFirehose::DeliveryStream", "DeliveryStreamName"); !slices.Equal(got, want) {
		t.Errorf("exporter delivery streams %v, stack delivery streams %v", got, want)
	}
	// Each delivery stream writes under its topology prefix, in the layout
	// the s3 source is told to list.
	for _, r := range tpl.Resources {
		if r.Type != "AWS::KinesisFirehose::DeliveryStream" {
			continue
		}
		name := r.Properties["DeliveryStreamName"].(string)
		dest, _ := r.Properties["ExtendedS3DestinationConfiguration"].(map[string]any)
		prefix, _ := dest["Prefix"].(string)
		i := slices.IndexFunc(top.DeliveryStreams, func(d config.DeliveryStream) bool { return d.Name == name })
		if i < 0 {
			t.Errorf("delivery stream %s not in the exporter topology", name)
			continue
		}
		want := top.DeliveryStreams[i].Prefix + "collector_date=!{partitionKeyFromLambda:collector_date}/collector_hour=!{partitionKeyFromLambda:collector_hour}/"
		if prefix != want {
			t.Errorf("%s writes %q; the exporter lists %q", name, prefix, want)
		}
	}
	var s3nodes int
	for _, src := range c.Sources {
		if src.Kind != config.KindS3 {
			continue
		}
		var set s3count.Settings
		if err := src.DecodeSettings(&set); err != nil {
			t.Fatal(err)
		}
		if set.Layout != s3count.LayoutCollectorPartitions || set.Bucket != top.Bucket || set.Region != top.Region {
			t.Errorf("s3 source settings %+v, want layout %s in the stack's bucket and region", set, s3count.LayoutCollectorPartitions)
		}
		for _, n := range c.NodesOf(src.Name) {
			var sel s3count.Select
			if err := n.DecodeSelect(&sel); err != nil {
				t.Fatal(err)
			}
			s3nodes++
			if !slices.ContainsFunc(top.DeliveryStreams, func(d config.DeliveryStream) bool { return d.Prefix == sel.Prefix }) {
				t.Errorf("s3 node %s counts %q, which no delivery stream writes", n.Name, sel.Prefix)
			}
		}
	}
	if s3nodes != 3 {
		t.Errorf("%d s3 nodes, want 3 (good, enriched-bad, raw-bad)", s3nodes)
	}
	// CloudWatch nodes name only the stack's resources.
	for _, n := range c.Nodes {
		var sel map[string]any
		if err := n.Select.Decode(&sel); err != nil {
			t.Fatal(err)
		}
		tn, _ := sel["topology_node"].(string)
		if tn == "" {
			continue
		}
		parts := strings.Split(tn, ":")
		if len(parts) < 2 || !(slices.Contains(streams, parts[1]) || slices.Contains(top.Functions, parts[1]) || slices.Contains(deliveries, parts[1])) {
			t.Errorf("node %s watches %q, not a resource of the stack", n.Name, tn)
		}
	}
}

func TestReadOutputsBothFormats(t *testing.T) {
	cdk := `{"Plowline": {"BucketName": "b1", "Region": "eu-west-1"}, "Other": {"BucketName": "x"}}`
	cfn := `{"Stacks": [{"StackName": "Plowline", "Outputs": [{"OutputKey": "BucketName", "OutputValue": "b1"}, {"OutputKey": "Region", "OutputValue": "eu-west-1"}]}]}`
	for name, in := range map[string]string{"cdk --outputs-file": cdk, "describe-stacks": cfn} {
		got, err := ReadOutputs(strings.NewReader(in), "Plowline")
		if err != nil || got["BucketName"] != "b1" || got["Region"] != "eu-west-1" {
			t.Errorf("%s: %v, %v", name, got, err)
		}
	}
	if _, err := ReadOutputs(strings.NewReader(cdk), "Missing"); err == nil || !strings.Contains(err.Error(), "Missing") {
		t.Errorf("unknown stack: %v", err)
	}
	if _, err := ReadOutputs(strings.NewReader("not json"), "Plowline"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestBuildRefusesOtherNames(t *testing.T) {
	out := deployedOutputs(t, readTemplate(t))
	out["StreamRawGood"] = "someone-elses-stream"
	if _, err := Build(out); err == nil || !strings.Contains(err.Error(), "someone-elses-stream") {
		t.Errorf("a stack with other names: %v, want an error naming the stream", err)
	}
	delete(out, "BucketName")
	if _, err := Build(out); err == nil || !strings.Contains(err.Error(), "BucketName") {
		t.Errorf("no bucket output: %v", err)
	}
}

// FuzzReadOutputs: whatever file the user passes, ReadOutputs returns
// outputs or an error, and Build never panics on them.
func FuzzReadOutputs(f *testing.F) {
	f.Add(`{"Plowline": {"BucketName": "b1", "Region": "eu-west-1"}}`)
	f.Add(`{"Stacks": [{"StackName": "Plowline", "Outputs": [{"OutputKey": "BucketName", "OutputValue": "b1"}]}]}`)
	f.Add(`{"Stacks": []}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := ReadOutputs(strings.NewReader(in), "Plowline")
		if err != nil {
			return
		}
		_, _ = Build(out)
	})
}
