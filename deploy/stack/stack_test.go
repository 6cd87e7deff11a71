package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/pipeline/pseudonymize"
)

// repo is the repository root seen from this package's directory.
const repo = "../.."

// One synthesis shared by every test: each costs seconds of jsii/Node.
var (
	synth    *Synthesized
	synthErr error
	tpl      assertions.Template
)

func TestMain(m *testing.M) {
	QuietNodeWarning()
	synth, synthErr = Synth(Props{RepoRoot: repo})
	if synthErr == nil {
		tpl = assertions.Template_FromJSON(&synth.Template, nil)
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

func need(t *testing.T) {
	t.Helper()
	if synthErr != nil {
		t.Fatalf("synthesizing the stack: %v", synthErr)
	}
}

// assert runs an assertions-module check: it throws (a Go panic through
// jsii) on mismatch, which becomes a test error naming what was checked.
func assert(t *testing.T, what string, check func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	check()
}

type obj = map[string]any
type arr = []any

func like(m obj) assertions.Matcher    { return assertions.Match_ObjectLike(&m) }
func with(a ...any) assertions.Matcher { return assertions.Match_ArrayWith(&a) }
func equals(a ...any) assertions.Matcher {
	return assertions.Match_ArrayEquals(&a)
}

// id finds the logical id of the one resource of type typ with props.
func id(t *testing.T, typ string, props obj) string {
	t.Helper()
	found := *tpl.FindResources(jsii.String(typ), obj{"Properties": like(props)})
	if len(found) != 1 {
		t.Fatalf("%d %s resources match %v, want 1", len(found), typ, props)
	}
	for k := range found {
		return k
	}
	return ""
}

func ref(id string) obj   { return obj{"Ref": id} }
func arnOf(id string) obj { return obj{"Fn::GetAtt": arr{id, "Arn"}} }
func count(t *testing.T, typ string, n float64) {
	t.Helper()
	assert(t, typ+" count", func() { tpl.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
}

// The names GitLab's pipeline uses (exporter/config.GitLabTopology), written
// out here so a rename there is caught rather than followed.
var streamNames = map[string]string{
	RawGood: "snowplow-raw-good", RawBad: "snowplow-raw-bad",
	EnrichedGood: "snowplow-enriched-good", EnrichedBad: "snowplow-enriched-bad",
}

var functionNames = map[string]string{
	Collector: "snowplow-collector", Enrich: "snowplow-enricher", Pseudonymize: "snowplow-pseudonymizer",
}

// delivery streams: source stream role → name and prefix.
var deliveries = map[string][2]string{
	EnrichedGood: {"snowplow-enriched-good", "output/"},
	EnrichedBad:  {"snowplow-enriched-bad", "enriched-bad/"},
	RawBad:       {"snowplow-raw-bad", "raw-bad/"},
}

func streamID(t *testing.T, role string) string {
	return id(t, "AWS::Kinesis::Stream", obj{"Name": streamNames[role]})
}

func functionID(t *testing.T, role string) string {
	return id(t, "AWS::Lambda::Function", obj{"FunctionName": functionNames[role]})
}

func TestCommittedTemplateIsCurrent(t *testing.T) {
	need(t)
	path := filepath.Join(repo, TemplateFile)
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("committed template: %v (write it with `make deploy-template`)", err)
	}
	if !bytes.Equal(old, synth.JSON) {
		t.Errorf("%s is stale: run `make deploy-template` and commit it", TemplateFile)
	}
}

func TestKinesisStreams(t *testing.T) {
	need(t)
	count(t, "AWS::Kinesis::Stream", 4)
	for _, name := range streamNames {
		assert(t, "stream "+name, func() {
			tpl.HasResourceProperties(jsii.String("AWS::Kinesis::Stream"), obj{
				"Name":                 name,
				"RetentionPeriodHours": 48,
				"StreamEncryption":     obj{"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
			})
		})
	}
}

func TestLambdaFunctions(t *testing.T) {
	need(t)
	count(t, "AWS::Lambda::Function", 3)
	params := *tpl.FindParameters(jsii.String("*"), nil)
	for _, p := range []string{ParamCodeBucket, ParamCodeKeyPrefix} {
		if _, ok := params[p]; !ok {
			t.Errorf("template has no parameter %s (parameters: %v)", p, keys(params))
		}
	}
	for role, zip := range map[string]string{Collector: "collector-arm64.zip", Enrich: "enrich-arm64.zip", Pseudonymize: "pseudonymize-arm64.zip"} {
		assert(t, "function "+role, func() {
			tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), obj{
				"FunctionName":  functionNames[role],
				"Runtime":       "provided.al2023",
				"Architectures": equals("arm64"),
				"Code": obj{
					"S3Bucket": ref(ParamCodeBucket),
					"S3Key":    obj{"Fn::Join": arr{"", arr{ref(ParamCodeKeyPrefix), zip}}},
				},
				"LoggingConfig": like(obj{"LogGroup": obj{"Ref": assertions.Match_AnyValue()}}),
			})
		})
	}
}

// TestLambdaEnvironment checks each function's variables: the values point
// at the stack's resources, and every PLOWLINE_ name is one the function's
// Go code reads (parsed from the source reachable from its entry point).
func TestLambdaEnvironment(t *testing.T) {
	need(t)
	secret := id(t, "AWS::SecretsManager::Secret", obj{})
	want := map[string]obj{
		Collector:    {"PLOWLINE_GOOD_STREAM": ref(streamID(t, RawGood)), "PLOWLINE_BAD_STREAM": ref(streamID(t, RawBad))},
		Enrich:       {"PLOWLINE_ENRICHED_GOOD_STREAM": ref(streamID(t, EnrichedGood)), "PLOWLINE_ENRICHED_BAD_STREAM": ref(streamID(t, EnrichedBad))},
		Pseudonymize: {"PLOWLINE_HMAC_SECRET_ID": ref(secret)},
	}
	for role, vars := range want {
		assert(t, "environment of "+role, func() {
			tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), obj{
				"FunctionName": functionNames[role],
				"Environment":  obj{"Variables": assertions.Match_ObjectEquals(&vars)},
			})
		})
		read := envReadBy(t, role)
		for name := range vars {
			if !read[name] {
				t.Errorf("%s: the stack sets %s but the function's code never names it (it reads %v)", role, name, sortedKeys(read))
			}
		}
	}
}

// entryPoints are where each function's code starts: its own main package
// (cmd/lambda/<fn>) when it has one, else the `plowline lambda` files of
// the single binary.
func entryPoints(t *testing.T, role string) (dir string, files []string) {
	t.Helper()
	art := map[string]string{Collector: "collector", Enrich: "enrich", Pseudonymize: "pseudonymize"}[role]
	own := filepath.Join(repo, "cmd", "lambda", art)
	if st, err := os.Stat(own); err == nil && st.IsDir() {
		return own, nil
	}
	dir = filepath.Join(repo, "cmd", "plowline")
	file := map[string]string{Collector: "lambda_collector.go", Enrich: "lambda_enrich.go", Pseudonymize: "lambda_firehose.go"}[role]
	for _, f := range []string{"lambda.go", file} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return dir, nil // laid out otherwise: the whole package
		}
	}
	return dir, []string{"lambda.go", file}
}

// envReadBy collects the PLOWLINE_* string literals in a function's entry
// point and every package of this repository it imports, transitively.
func envReadBy(t *testing.T, role string) map[string]bool {
	t.Helper()
	dir, files := entryPoints(t, role)
	names := map[string]bool{}
	seen := map[string]bool{}
	var walk func(dir string, only []string)
	walk = func(dir string, only []string) {
		if seen[dir] && only == nil {
			return
		}
		seen[dir] = true
		lits, imports, err := scanGo(dir, only)
		if err != nil {
			t.Fatalf("reading the Go source of %s: %v", dir, err)
		}
		for _, l := range lits {
			names[l] = true
		}
		for _, imp := range imports {
			if rest, ok := strings.CutPrefix(imp, "github.com/plowline/plowline/"); ok && !strings.HasPrefix(rest, "deploy") {
				walk(filepath.Join(repo, filepath.FromSlash(rest)), nil)
			}
		}
	}
	walk(dir, files)
	if len(names) == 0 {
		t.Fatalf("no PLOWLINE_ variable found in the code of %s (from %s)", role, dir)
	}
	return names
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string { return keys(m) }

func TestEventSourceMapping(t *testing.T) {
	need(t)
	count(t, "AWS::Lambda::EventSourceMapping", 1)
	assert(t, "enrich reads raw-good with partial batch responses", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), obj{
			"EventSourceArn":        arnOf(streamID(t, RawGood)),
			"FunctionName":          ref(functionID(t, Enrich)),
			"FunctionResponseTypes": equals("ReportBatchItemFailures"),
			"StartingPosition":      "TRIM_HORIZON",
		})
	})
}

// partitionKeysIn lists the !{partitionKeyFromLambda:KEY} names of a prefix.
var partitionKeyRE = regexp.MustCompile(`!\{partitionKeyFromLambda:([^}]+)\}`)

func TestFirehoseDeliveryStreams(t *testing.T) {
	need(t)
	count(t, "AWS::KinesisFirehose::DeliveryStream", 3)
	pseudo := functionID(t, Pseudonymize)
	bucket := id(t, "AWS::S3::Bucket", obj{})
	// The keys the pseudonymizer really returns, for an event and a bad row.
	eventKeys := pseudonymize.PartitionKeysAt([]byte("not an event"), time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	badRow := `{"schema":"iglu:com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0","data":{"failure":{"timestamp":"2026-12-05T09:10:11Z"}}}`
	badKeys, err := pseudonymize.PartitionKeys([]byte(badRow))
	if err != nil {
		t.Fatalf("partition keys of a bad row: %v", err)
	}
	if fmt.Sprint(keys(eventKeys)) != fmt.Sprint(keys(badKeys)) {
		t.Fatalf("events and bad rows get different partition keys: %v vs %v", keys(eventKeys), keys(badKeys))
	}
	for role, d := range deliveries {
		name, prefix := d[0], d[1]
		assert(t, "delivery stream "+name, func() {
			tpl.HasResourceProperties(jsii.String("AWS::KinesisFirehose::DeliveryStream"), obj{
				"DeliveryStreamName":               name,
				"DeliveryStreamType":               "KinesisStreamAsSource",
				"KinesisStreamSourceConfiguration": like(obj{"KinesisStreamARN": arnOf(streamID(t, role))}),
				"ExtendedS3DestinationConfiguration": like(obj{
					"BucketARN":                        arnOf(bucket),
					"Prefix":                           prefix + "collector_date=!{partitionKeyFromLambda:collector_date}/collector_hour=!{partitionKeyFromLambda:collector_hour}/",
					"ErrorOutputPrefix":                "processing-failed/",
					"CompressionFormat":                "GZIP",
					"DynamicPartitioningConfiguration": like(obj{"Enabled": true}),
					"ProcessingConfiguration": obj{
						"Enabled": true,
						"Processors": equals(like(obj{
							"Type":       "Lambda",
							"Parameters": with(obj{"ParameterName": "LambdaArn", "ParameterValue": arnOf(pseudo)}),
						})),
					},
				}),
			})
		})
	}
	for _, r := range *tpl.FindResources(jsii.String("AWS::KinesisFirehose::DeliveryStream"), nil) {
		var ds struct {
			Properties struct {
				DeliveryStreamName string
				Dest               struct {
					Prefix                  string
					ProcessingConfiguration struct {
						Processors []struct {
							Parameters []struct{ ParameterName, ParameterValue any }
						}
					}
				} `json:"ExtendedS3DestinationConfiguration"`
			}
		}
		decode(t, r, &ds)
		p := ds.Properties
		var got []string
		for _, m := range partitionKeyRE.FindAllStringSubmatch(p.Dest.Prefix, -1) {
			got = append(got, m[1])
		}
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(keys(eventKeys)) {
			t.Errorf("%s: prefix %q uses partition keys %v, the pseudonymizer returns %v", p.DeliveryStreamName, p.Dest.Prefix, got, keys(eventKeys))
		}
		size := ""
		for _, pr := range p.Dest.ProcessingConfiguration.Processors {
			for _, param := range pr.Parameters {
				if param.ParameterName == "BufferSizeInMBs" {
					size = fmt.Sprint(param.ParameterValue)
				}
			}
		}
		var mb float64
		if _, err := fmt.Sscan(size, &mb); err != nil || mb <= 0 || mb > 2 {
			t.Errorf("%s: processor BufferSizeInMBs %q, want a number in (0, 2] (pseudonymized responses must fit Lambda's 6 MB)", p.DeliveryStreamName, size)
		}
	}
}

func decode(t *testing.T, v any, into any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

func TestHMACKeySecret(t *testing.T) {
	need(t)
	count(t, "AWS::SecretsManager::Secret", 1)
	secret := id(t, "AWS::SecretsManager::Secret", obj{"GenerateSecretString": like(obj{"PasswordLength": 64})})
	assert(t, "secret retained on stack deletion", func() {
		tpl.HasResource(jsii.String("AWS::SecretsManager::Secret"), obj{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
	})
	// Only the pseudonymizer may read it.
	readers := *tpl.FindResources(jsii.String("AWS::IAM::Policy"), obj{"Properties": like(obj{
		"PolicyDocument": like(obj{"Statement": with(like(obj{"Action": "secretsmanager:GetSecretValue", "Resource": ref(secret)}))}),
	})})
	if len(readers) != 1 {
		t.Fatalf("%d policies grant secretsmanager:GetSecretValue on the key, want 1", len(readers))
	}
	for _, p := range readers {
		var pol struct {
			Properties struct{ Roles []map[string]string }
		}
		decode(t, p, &pol)
		role := id(t, "AWS::IAM::Role", obj{"Description": "plowline pseudonymize function: its log group and only the resources it uses"})
		if len(pol.Properties.Roles) != 1 || pol.Properties.Roles[0]["Ref"] != role {
			t.Errorf("the key is readable by %v, want only the pseudonymizer's role %s", pol.Properties.Roles, role)
		}
	}
}

func TestBucket(t *testing.T) {
	need(t)
	count(t, "AWS::S3::Bucket", 1)
	assert(t, "bucket encryption, public access block, lifecycle", func() {
		tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), obj{
			"BucketEncryption": obj{"ServerSideEncryptionConfiguration": equals(like(obj{
				"ServerSideEncryptionByDefault": obj{"SSEAlgorithm": "AES256"}}))},
			"PublicAccessBlockConfiguration": obj{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
			"LifecycleConfiguration": obj{"Rules": with(
				like(obj{"AbortIncompleteMultipartUpload": obj{"DaysAfterInitiation": 7}}),
				like(obj{"Prefix": "processing-failed/", "ExpirationInDays": 14, "Status": "Enabled"}),
			)},
		})
	})
	assert(t, "bucket refuses plain HTTP", func() {
		tpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), obj{
			"PolicyDocument": like(obj{"Statement": with(like(obj{
				"Effect": "Deny", "Condition": obj{"Bool": obj{"aws:SecureTransport": "false"}}}))}),
		})
	})
}

// TestLeastPrivilege walks every Allow statement of every policy and role
// in the template: no wildcard action, no "*" resource, no managed policy.
func TestLeastPrivilege(t *testing.T) {
	need(t)
	type stmt struct {
		Effect   string
		Action   any
		Resource any
	}
	var statements []stmt
	for name, r := range *tpl.FindResources(jsii.String("AWS::IAM::Policy"), nil) {
		var p struct {
			Properties struct {
				PolicyDocument struct{ Statement []stmt }
			}
		}
		decode(t, r, &p)
		if len(p.Properties.PolicyDocument.Statement) == 0 {
			t.Errorf("policy %s has no statements", name)
		}
		statements = append(statements, p.Properties.PolicyDocument.Statement...)
	}
	for name, r := range *tpl.FindResources(jsii.String("AWS::IAM::Role"), nil) {
		var role struct {
			Properties struct {
				ManagedPolicyArns []any
				Policies          []struct {
					PolicyDocument struct{ Statement []stmt }
				}
			}
		}
		decode(t, r, &role)
		if len(role.Properties.ManagedPolicyArns) > 0 {
			t.Errorf("role %s has managed policies %v: grant what it uses inline instead", name, role.Properties.ManagedPolicyArns)
		}
		for _, p := range role.Properties.Policies {
			statements = append(statements, p.PolicyDocument.Statement...)
		}
	}
	if len(statements) < 10 {
		t.Fatalf("only %d IAM statements found; the walk is broken", len(statements))
	}
	list := func(v any) []any {
		if a, ok := v.([]any); ok {
			return a
		}
		return []any{v}
	}
	for _, s := range statements {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range list(s.Action) {
			if str, ok := a.(string); !ok || strings.Contains(str, "*") {
				t.Errorf("statement allows action %v (wildcard or not a string): %+v", a, s)
			}
		}
		if s.Resource == nil {
			t.Errorf("statement has no Resource: %+v", s)
		}
		for _, r := range list(s.Resource) {
			if r == "*" {
				t.Errorf("statement allows %v on every resource", s.Action)
			}
		}
	}
	// Each function writes only to its own streams.
	for role, streams := range map[string][]string{Collector: {RawGood, RawBad}, Enrich: {EnrichedGood, EnrichedBad}} {
		res := arr{}
		for _, s := range streams {
			res = append(res, arnOf(streamID(t, s)))
		}
		assert(t, role+" writes its streams", func() {
			tpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), obj{"PolicyDocument": like(obj{"Statement": with(obj{
				"Effect": "Allow", "Action": equals("kinesis:PutRecord", "kinesis:PutRecords"), "Resource": equals(res...)})})})
		})
	}
	puts := *tpl.FindResources(jsii.String("AWS::IAM::Policy"), obj{"Properties": like(obj{"PolicyDocument": like(obj{
		"Statement": with(like(obj{"Action": with("kinesis:PutRecords")}))})})})
	if len(puts) != 2 {
		t.Errorf("%d policies allow kinesis:PutRecords, want 2 (collector and enrich)", len(puts))
	}
}

// TestDashboard checks the dashboard is the committed CloudWatch body, in
// the stack's region, and charts only resources the stack creates.
func TestDashboard(t *testing.T) {
	need(t)
	count(t, "AWS::CloudWatch::Dashboard", 1)
	var d struct {
		Properties struct {
			DashboardName string
			DashboardBody struct {
				Sub string `json:"Fn::Sub"`
			}
		}
	}
	for _, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil) {
		decode(t, r, &d)
	}
	if d.Properties.DashboardName != "SnowPlow" {
		t.Errorf("dashboard name %q, want SnowPlow", d.Properties.DashboardName)
	}
	var body, committed struct {
		Widgets []struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal([]byte(d.Properties.DashboardBody.Sub), &body); err != nil {
		t.Fatalf("dashboard body is not JSON under Fn::Sub: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(repo, "dashboards", "cloudwatch", "SnowPlow.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &committed); err != nil {
		t.Fatal(err)
	}
	elb := 0
	for _, w := range committed.Widgets {
		if strings.Contains(fmt.Sprint(w.Properties["metrics"]), "ELB") {
			elb++
		}
	}
	if len(body.Widgets) != len(committed.Widgets)-elb || len(body.Widgets) < 5 {
		t.Errorf("dashboard has %d widgets, want the committed %d minus %d load-balancer widgets", len(body.Widgets), len(committed.Widgets), elb)
	}
	// Every resource name a widget charts, by dimension.
	have := map[string][]string{
		"StreamName":         slices.Collect(mapValues(streamNames)),
		"FunctionName":       slices.Collect(mapValues(functionNames)),
		"function":           slices.Collect(mapValues(functionNames)),
		"DeliveryStreamName": {"snowplow-enriched-good", "snowplow-enriched-bad", "snowplow-raw-bad"},
		"stream":             {"snowplow-enriched-good", "snowplow-enriched-bad", "snowplow-raw-bad"},
	}
	charted := 0
	for _, w := range body.Widgets {
		if w.Type != "metric" {
			continue
		}
		if w.Properties["region"] != "${AWS::Region}" {
			t.Errorf("widget %q has region %v, want the stack's", w.Properties["title"], w.Properties["region"])
		}
		metrics, _ := w.Properties["metrics"].([]any)
		for _, m := range metrics {
			line, _ := m.([]any)
			for i := 2; i+1 < len(line); i += 2 {
				dim, _ := line[i].(string)
				val, _ := line[i+1].(string)
				known, ok := have[dim]
				if !ok {
					continue // result, and other non-resource dimensions
				}
				charted++
				if !slices.Contains(known, val) {
					t.Errorf("widget %q charts %s=%s, which the stack does not create", w.Properties["title"], dim, val)
				}
			}
		}
	}
	if charted < 10 {
		t.Errorf("only %d charted resource dimensions found; the walk is broken", charted)
	}
}

func mapValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, k := range keys(m) {
			if !yield(m[k]) {
				return
			}
		}
	}
}

func TestAlarms(t *testing.T) {
	need(t)
	topic := id(t, "AWS::SNS::Topic", obj{})
	alarm := func(what, metric string, dims obj) {
		t.Helper()
		d := arr{}
		for k, v := range dims {
			d = append(d, obj{"Name": k, "Value": v})
		}
		assert(t, what, func() {
			tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), obj{
				"MetricName":   metric,
				"Dimensions":   assertions.Match_ArrayEquals(&d),
				"AlarmActions": equals(ref(topic)),
			})
		})
	}
	for _, s := range streamNames {
		alarm("iterator age of "+s, "GetRecords.IteratorAgeMilliseconds", obj{"StreamName": s})
	}
	for _, f := range functionNames {
		alarm("errors of "+f, "Errors", obj{"FunctionName": f})
	}
	for _, d := range deliveries {
		alarm("delivery of "+d[0], "DeliveryToS3.Success", obj{"DeliveryStreamName": d[0]})
		alarm("freshness of "+d[0], "DeliveryToS3.DataFreshness", obj{"DeliveryStreamName": d[0]})
	}
	// The critical iterator-age alarm pages before the 48 h retention runs out.
	for _, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::Alarm"), obj{"Properties": like(obj{"MetricName": "GetRecords.IteratorAgeMilliseconds"})}) {
		var a struct{ Properties struct{ Threshold float64 } }
		decode(t, r, &a)
		if a.Properties.Threshold <= 0 || a.Properties.Threshold >= float64((48*time.Hour).Milliseconds()) {
			t.Errorf("iterator age alarm threshold %v ms, want within the 48 h retention", a.Properties.Threshold)
		}
	}
}

func TestOutputs(t *testing.T) {
	need(t)
	outs := *tpl.FindOutputs(jsii.String("*"), nil)
	for _, k := range []string{OutputRegion, OutputBucket, OutputCollectorURL, OutputHMACSecretARN, OutputAlarmTopicARN,
		"StreamRawGood", "FunctionPseudonymize", "DeliveryStreamEnrichedGood", "DeliveryPrefixEnrichedGood"} {
		if _, ok := outs[k]; !ok {
			t.Errorf("no output %s (outputs: %v)", k, keys(outs))
		}
	}
}

func TestLambdaDirMustHoldTheZips(t *testing.T) {
	if _, err := codeSource(t.TempDir()); err == nil || !strings.Contains(err.Error(), "make lambda") {
		t.Errorf("codeSource of an empty directory: %v, want an error naming `make lambda`", err)
	}
}

func TestResolveRejectsIncompleteTopology(t *testing.T) {
	good := config.GitLabTopology()
	if _, err := Resolve(good); err != nil {
		t.Fatalf("GitLab's topology: %v", err)
	}
	noStream := good
	noStream.Streams = good.Streams[1:]
	strayDelivery := config.GitLabTopology()
	strayDelivery.DeliveryStreams[0].Source = "elsewhere"
	failedPrefix := config.GitLabTopology()
	failedPrefix.DeliveryStreams[1].Prefix = ProcessingFailedPrefix
	noFunction := config.GitLabTopology()
	noFunction.Functions = good.Functions[:2]
	for name, c := range map[string]struct {
		topo config.Topology
		want string
	}{
		"no raw-good stream":               {noStream, "raw-good"},
		"delivery of an unknown stream":    {strayDelivery, "elsewhere"},
		"delivery into processing-failed/": {failedPrefix, "processing-failed/"},
		"no pseudonymizer function":        {noFunction, "pseudonymi"},
	} {
		if _, err := Resolve(c.topo); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
	if _, err := Synth(Props{RepoRoot: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "make dashboards") {
		t.Errorf("synth without the dashboard body: %v, want an error naming `make dashboards`", err)
	}
}

// TestCodeFromAssets synthesizes the `cdk deploy -c plowline:lambda-dir=…`
// variant: the zips become CDK assets and the code parameters disappear.
func TestCodeFromAssets(t *testing.T) {
	need(t)
	dir := t.TempDir()
	for _, f := range Functions {
		if err := os.WriteFile(filepath.Join(dir, ArtifactName(f)), []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Synth(Props{RepoRoot: repo, LambdaDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	at := assertions.Template_FromJSON(&s.Template, nil)
	if params := *at.FindParameters(jsii.String("*"), nil); len(params) != 0 {
		t.Errorf("asset variant has parameters %v", keys(params))
	}
	assert(t, "functions read their code from the CDK asset bucket", func() {
		at.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Function"), obj{
			"Code": obj{"S3Bucket": obj{"Fn::Sub": assertions.Match_StringLikeRegexp(jsii.String("cdk-.*-assets-"))}, "S3Key": assertions.Match_StringLikeRegexp(jsii.String(`^[0-9a-f]{64}\.zip$`))},
		}, jsii.Number(3))
	})
}
