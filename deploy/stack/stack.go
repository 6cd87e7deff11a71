// Package stack defines plowline's AWS deployment as an AWS CDK stack: the
// four Kinesis streams, the collector, enrich and pseudonymize Lambda
// functions, the Firehose delivery streams that run the pseudonymizer and
// write to S3, the HMAC key in Secrets Manager, the bucket, least-privilege
// IAM roles, the CloudWatch dashboard generated under dashboards/cloudwatch/
// and the CloudWatch alarms that must page even when Prometheus is down.
//
// Resource names come from the exporter's config.GitLabTopology, the same
// topology the committed dashboard and `plowline exporter --print-config`
// are generated from, so the dashboard and the exporter watch exactly the
// resources this stack creates.
package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesisfirehose"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/plowline/plowline/alerts"
	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/metricname"
	"github.com/plowline/plowline/pipeline/lambda/collectorfn"
	"github.com/plowline/plowline/pipeline/lambda/enrichfn"
	"github.com/plowline/plowline/pipeline/lambda/pseudonymizefn"
	"github.com/plowline/plowline/pipeline/pseudonymize"
)

// DefaultStackName is the CloudFormation stack name the CDK app and the
// committed template use.
const DefaultStackName = "Plowline"

// DashboardFile is the generated CloudWatch dashboard body, relative to the
// repository root (written by `make dashboards`).
const DashboardFile = "dashboards/cloudwatch/SnowPlow.json"

// Environment variables the Lambda functions read, taken from the functions'
// own packages so the stack and the code cannot drift apart.
const (
	EnvGoodStream         = collectorfn.EnvGoodStream
	EnvBadStream          = collectorfn.EnvBadStream
	EnvEnrichedGoodStream = enrichfn.EnvGoodStream
	EnvEnrichedBadStream  = enrichfn.EnvBadStream
	EnvHMACSecretID       = pseudonymizefn.EnvHMACSecretID
)

// Names of the CloudFormation parameters that locate the Lambda code when
// Props.LambdaDir is empty.
const (
	ParamCodeBucket    = "LambdaCodeBucket"
	ParamCodeKeyPrefix = "LambdaCodeKeyPrefix"
)

// Names of the stack outputs (read by `go run ./deploy exporter-config`).
const (
	OutputRegion            = "Region"
	OutputBucket            = "BucketName"
	OutputCollectorURL      = "CollectorUrl"
	OutputHMACSecretARN     = "HmacSecretArn"
	OutputAlarmTopicARN     = "AlarmTopicArn"
	OutputDashboard         = "DashboardName"
	OutputStreamPrefix      = "Stream"         // + role: StreamRawGood ...
	OutputFunctionPrefix    = "Function"       // + role: FunctionCollector ...
	OutputDeliveryPrefix    = "DeliveryStream" // + role: DeliveryStreamEnrichedGood ...
	OutputDeliveryPrefixKey = "DeliveryPrefix" // + role: the S3 prefix of that delivery stream
)

// Architecture of every function (the artifacts are bin/lambda/<fn>-arm64.zip).
const Architecture = "arm64"

// Stream retention: 48 hours, the time an on-call engineer has to fix a
// stalled consumer before Kinesis drops records.
const retentionHours = 48

// ProcessorBufferMB is the Firehose processor's BufferSizeInMBs: pseudonyms
// are 64 hex characters, so a response is larger than its request and must
// stay under Lambda's 6 MB response limit (pipeline/lambda.MaxResponseBytes).
const ProcessorBufferMB = 1

// ProcessingFailedPrefix is where Firehose writes records the pseudonymizer
// returned ProcessingFailed — unpseudonymized, so they expire quickly.
const ProcessingFailedPrefix = "processing-failed/"

// processingFailedDays is how long unpseudonymized records are kept for
// re-driving before S3 deletes them.
const processingFailedDays = 14

// PartitionSuffix is appended to each delivery stream's prefix: the
// dynamic-partitioning keys the pseudonymizer returns per record
// (pipeline/pseudonymize.KeyCollectorDate/KeyCollectorHour), the layout the
// exporter's s3 source reads as `layout: collector_partitions`.
var PartitionSuffix = pseudonymize.KeyCollectorDate + "=!{partitionKeyFromLambda:" + pseudonymize.KeyCollectorDate + "}/" +
	pseudonymize.KeyCollectorHour + "=!{partitionKeyFromLambda:" + pseudonymize.KeyCollectorHour + "}/"

// Props configure the stack.
type Props struct {
	awscdk.StackProps
	// RepoRoot is the repository checkout; the dashboard body is read from
	// RepoRoot/DashboardFile at synth time.
	RepoRoot string
	// LambdaDir, if set, holds <fn>-arm64.zip for each function (what `make
	// lambda` writes to bin/lambda) and the code is deployed as CDK assets
	// (cdk deploy). Empty: the code is read from S3 at the locations given
	// by the LambdaCodeBucket and LambdaCodeKeyPrefix parameters, so the
	// committed template deploys with plain CloudFormation and synth needs
	// no zip.
	LambdaDir string
	// Topology names the resources; zero: config.GitLabTopology().
	Topology *config.Topology
}

// Roles of the streams, functions and delivery streams in the topology.
const (
	RawGood      = "RawGood"
	RawBad       = "RawBad"
	EnrichedGood = "EnrichedGood"
	EnrichedBad  = "EnrichedBad"

	Collector    = "Collector"
	Enrich       = "Enrich"
	Pseudonymize = "Pseudonymize"
)

// streamRoles maps a stream role to the suffix of its name in the topology.
var streamRoles = []struct{ role, suffix string }{
	{RawGood, "raw-good"}, {RawBad, "raw-bad"}, {EnrichedGood, "enriched-good"}, {EnrichedBad, "enriched-bad"},
}

// Function describes one Lambda function of the pipeline.
type Function struct {
	Role string
	// Artifact is the base name of its zip: bin/lambda/<Artifact>-arm64.zip.
	Artifact string
	// Handler is the stage `plowline lambda` serves ($_HANDLER).
	Handler string
	// match finds its name in the topology's functions.
	match  string
	memory float64
	// timeout in seconds.
	timeout float64
}

// Functions are the pipeline's Lambda functions.
var Functions = []Function{
	{Role: Collector, Artifact: "collector", Handler: "collector", match: "collector", memory: 256, timeout: 15},
	{Role: Enrich, Artifact: "enrich", Handler: "enrich", match: "enrich", memory: 512, timeout: 60},
	{Role: Pseudonymize, Artifact: "pseudonymize", Handler: "pseudonymize", match: "pseudonymi", memory: 256, timeout: 120},
}

// Names are the resolved resource names of a topology, by role.
type Names struct {
	Streams   map[string]config.Stream
	Functions map[string]string
	// Deliveries maps a source stream role to its delivery stream.
	Deliveries map[string]config.DeliveryStream
}

// Resolve finds every role's resource in t, or says which is missing.
func Resolve(t config.Topology) (Names, error) {
	n := Names{Streams: map[string]config.Stream{}, Functions: map[string]string{}, Deliveries: map[string]config.DeliveryStream{}}
	for _, r := range streamRoles {
		for _, s := range t.Streams {
			if strings.HasSuffix(s.Name, r.suffix) {
				n.Streams[r.role] = s
			}
		}
		if _, ok := n.Streams[r.role]; !ok {
			return Names{}, fmt.Errorf("topology has no stream named *%s (streams: %v)", r.suffix, t.Streams)
		}
	}
	for _, f := range Functions {
		for _, name := range t.Functions {
			if strings.Contains(name, f.match) {
				n.Functions[f.Role] = name
			}
		}
		if _, ok := n.Functions[f.Role]; !ok {
			return Names{}, fmt.Errorf("topology has no function whose name contains %q (functions: %v)", f.match, t.Functions)
		}
	}
	for _, d := range t.DeliveryStreams {
		found := false
		for role, s := range n.Streams {
			if d.Source == s.Name {
				if role == RawGood {
					return Names{}, fmt.Errorf("delivery stream %s reads %s, the enricher's input: only raw-bad and the enriched streams go to S3", d.Name, d.Source)
				}
				n.Deliveries[role], found = d, true
			}
		}
		if !found {
			return Names{}, fmt.Errorf("delivery stream %s reads %q, which is not one of the topology's streams", d.Name, d.Source)
		}
		if !strings.HasSuffix(d.Prefix, "/") || d.Prefix == ProcessingFailedPrefix {
			return Names{}, fmt.Errorf("delivery stream %s: prefix %q must end in / and differ from %s", d.Name, d.Prefix, ProcessingFailedPrefix)
		}
	}
	if len(n.Deliveries) == 0 {
		return Names{}, fmt.Errorf("topology has no delivery streams")
	}
	return n, nil
}

// New defines the plowline stack in scope. The CDK reports invalid
// settings by throwing, which jsii turns into a panic: New returns it as an
// error instead.
func New(scope constructs.Construct, id string, p Props) (st awscdk.Stack, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = nil, fmt.Errorf("defining stack %s: %v", id, r)
		}
	}()
	topo := config.GitLabTopology()
	if p.Topology != nil {
		topo = *p.Topology
	}
	names, err := Resolve(topo)
	if err != nil {
		return nil, err
	}
	body, err := dashboardBody(filepath.Join(p.RepoRoot, DashboardFile), names)
	if err != nil {
		return nil, err
	}
	code, err := codeSource(p.LambdaDir)
	if err != nil {
		return nil, err
	}

	sp := p.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("plowline: Snowplow-style pipeline (collector, enricher, HMAC pseudonymizer, S3) with its alarms and dashboard")
	}
	if sp.Synthesizer == nil {
		// No bootstrap-version rule: the committed template must deploy
		// with plain CloudFormation in an account never bootstrapped.
		sp.Synthesizer = awscdk.NewDefaultStackSynthesizer(&awscdk.DefaultStackSynthesizerProps{
			GenerateBootstrapVersionRule: jsii.Bool(false),
		})
	}
	if sp.AnalyticsReporting == nil {
		sp.AnalyticsReporting = jsii.Bool(false)
	}
	st = awscdk.NewStack(scope, jsii.String(id), &sp)
	b := &builder{st: st, names: names, code: code}

	b.streams()
	b.bucket()
	b.secret()
	b.functions()
	b.deliveries()
	b.alarms()

	awscloudwatch.NewCfnDashboard(st, jsii.String("Dashboard"), &awscloudwatch.CfnDashboardProps{
		DashboardName: jsii.String(dashboardName()),
		DashboardBody: awscdk.Fn_Sub(jsii.String(body), nil),
	})

	out := func(name, value, desc string) {
		awscdk.NewCfnOutput(st, jsii.String(name), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(desc)})
	}
	out(OutputRegion, *st.Region(), "region of the stack (exporter topology.region)")
	out(OutputBucket, *b.bkt.BucketName(), "bucket the delivery streams write to (exporter s3.bucket)")
	out(OutputHMACSecretARN, *b.key.SecretArn(), "Secrets Manager secret holding the HMAC key")
	out(OutputAlarmTopicARN, *b.topic.TopicArn(), "SNS topic the alarms notify: subscribe the pager to it")
	out(OutputDashboard, dashboardName(), "CloudWatch dashboard")
	out(OutputCollectorURL, *b.url.Url(), "the collector's function URL: point the trackers at it")
	for _, r := range streamRoles {
		out(OutputStreamPrefix+r.role, names.Streams[r.role].Name, "Kinesis stream "+r.suffix)
	}
	for _, f := range Functions {
		out(OutputFunctionPrefix+f.Role, names.Functions[f.Role], "Lambda function "+f.Artifact)
	}
	for _, r := range streamRoles {
		if d, ok := names.Deliveries[r.role]; ok {
			out(OutputDeliveryPrefix+r.role, d.Name, "Firehose delivery stream of "+r.suffix)
			out(OutputDeliveryPrefixKey+r.role, d.Prefix, "S3 prefix of the "+r.suffix+" delivery stream")
		}
	}
	return st, nil
}

func dashboardName() string { return "SnowPlow" }

type builder struct {
	st    awscdk.Stack
	names Names
	code  func(b *builder, f Function) awslambda.Code

	streamsByRole map[string]awskinesis.Stream
	bkt           awss3.Bucket
	key           awssecretsmanager.Secret
	topic         awssns.Topic
	fns           map[string]awslambda.Function
	url           awslambda.FunctionUrl
	codeBucket    awss3.IBucket
	codePrefix    *string
}

func (b *builder) streams() {
	b.streamsByRole = map[string]awskinesis.Stream{}
	for _, r := range streamRoles {
		s := b.names.Streams[r.role]
		b.streamsByRole[r.role] = awskinesis.NewStream(b.st, jsii.String(r.role+"Stream"), &awskinesis.StreamProps{
			StreamName:      jsii.String(s.Name),
			RetentionPeriod: awscdk.Duration_Hours(jsii.Number(retentionHours)),
			StreamMode:      awskinesis.StreamMode_ON_DEMAND,
			Encryption:      awskinesis.StreamEncryption_MANAGED,
			RemovalPolicy:   awscdk.RemovalPolicy_RETAIN,
		})
	}
}

func (b *builder) bucket() {
	b.bkt = awss3.NewBucket(b.st, jsii.String("Bucket"), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{
			{
				Id:                                  jsii.String("abort-incomplete-uploads"),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
			},
			{
				// Unpseudonymized records: keep only long enough to re-drive.
				Id:         jsii.String("expire-processing-failed"),
				Prefix:     jsii.String(ProcessingFailedPrefix),
				Expiration: awscdk.Duration_Days(jsii.Number(processingFailedDays)),
			},
			{
				// Loaded into the warehouse within hours; older objects are
				// read only to reconcile or reload.
				Id: jsii.String("intelligent-tiering"),
				Transitions: &[]*awss3.Transition{{
					StorageClass:    awss3.StorageClass_INTELLIGENT_TIERING(),
					TransitionAfter: awscdk.Duration_Days(jsii.Number(30)),
				}},
			},
		},
	})
}

func (b *builder) secret() {
	b.key = awssecretsmanager.NewSecret(b.st, jsii.String("HmacKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("plowline pseudonymizer HMAC-SHA256 key; replacing it changes every pseudonym"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
		},
		// Losing the key makes every pseudonym unlinkable to new ones.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
}

// codeSource picks where the functions' code comes from.
func codeSource(dir string) (func(b *builder, f Function) awslambda.Code, error) {
	if dir != "" {
		for _, f := range Functions {
			path := filepath.Join(dir, ArtifactName(f))
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("lambda code %s: %w (build it with `make lambda`)", path, err)
			}
		}
		return func(_ *builder, f Function) awslambda.Code {
			return awslambda.Code_FromAsset(jsii.String(filepath.Join(dir, ArtifactName(f))), nil)
		}, nil
	}
	return func(b *builder, f Function) awslambda.Code {
		if b.codeBucket == nil {
			bucket := awscdk.NewCfnParameter(b.st, jsii.String(ParamCodeBucket), &awscdk.CfnParameterProps{
				Type:        jsii.String("String"),
				Description: jsii.String("S3 bucket holding the Lambda zips (bin/lambda/<fn>-arm64.zip from `make lambda`)"),
				MinLength:   jsii.Number(3),
			})
			prefix := awscdk.NewCfnParameter(b.st, jsii.String(ParamCodeKeyPrefix), &awscdk.CfnParameterProps{
				Type:        jsii.String("String"),
				Default:     jsii.String("plowline/"),
				Description: jsii.String("key prefix of the zips in LambdaCodeBucket: <prefix>collector-arm64.zip, ..."),
			})
			b.codeBucket = awss3.Bucket_FromBucketName(b.st, jsii.String("LambdaCode"), bucket.ValueAsString())
			b.codePrefix = prefix.ValueAsString()
		}
		key := awscdk.Fn_Join(jsii.String(""), &[]*string{b.codePrefix, jsii.String(ArtifactName(f))})
		return awslambda.Code_FromBucket(b.codeBucket, key, nil)
	}, nil
}

// ArtifactName is the zip `make lambda` builds for f.
func ArtifactName(f Function) string { return f.Artifact + "-" + Architecture + ".zip" }

func (b *builder) functions() {
	b.fns = map[string]awslambda.Function{}
	s := b.streamsByRole
	env := map[string]map[string]*string{
		Collector:    {EnvGoodStream: s[RawGood].StreamName(), EnvBadStream: s[RawBad].StreamName()},
		Enrich:       {EnvEnrichedGoodStream: s[EnrichedGood].StreamName(), EnvEnrichedBadStream: s[EnrichedBad].StreamName()},
		Pseudonymize: {EnvHMACSecretID: b.key.SecretArn()},
	}
	for _, f := range Functions {
		name := b.names.Functions[f.Role]
		logs := awslogs.NewLogGroup(b.st, jsii.String(f.Role+"Logs"), &awslogs.LogGroupProps{
			LogGroupName:  jsii.String("/aws/lambda/" + name),
			Retention:     awslogs.RetentionDays_ONE_MONTH,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		role := awsiam.NewRole(b.st, jsii.String(f.Role+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String("plowline " + f.Artifact + " function: its log group and only the resources it uses"),
		})
		// The function creates its log streams in its own group (the
		// group exists: no logs:CreateLogGroup).
		role.AddToPolicy(allow([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, *logs.LogGroupArn()))
		e := env[f.Role]
		fn := awslambda.NewFunction(b.st, jsii.String(f.Role+"Function"), &awslambda.FunctionProps{
			FunctionName: jsii.String(name),
			Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
			Architecture: awslambda.Architecture_ARM_64(),
			Handler:      jsii.String(f.Handler),
			Code:         b.code(b, f),
			MemorySize:   jsii.Number(f.memory),
			Timeout:      awscdk.Duration_Seconds(jsii.Number(f.timeout)),
			Role:         role,
			LogGroup:     logs,
			Environment:  &e,
			Description:  jsii.String("plowline " + f.Artifact + " (bin/lambda/" + ArtifactName(f) + ")"),
		})
		b.fns[f.Role] = fn
		switch f.Role {
		case Collector:
			role.AddToPolicy(allow([]string{"kinesis:PutRecord", "kinesis:PutRecords"}, *s[RawGood].StreamArn(), *s[RawBad].StreamArn()))
			// Trackers post from browsers and servers anywhere: the URL is
			// public; the collector itself enforces its limits and CORS.
			b.url = fn.AddFunctionUrl(&awslambda.FunctionUrlOptions{AuthType: awslambda.FunctionUrlAuthType_NONE})
		case Enrich:
			role.AddToPolicy(allow([]string{"kinesis:PutRecord", "kinesis:PutRecords"}, *s[EnrichedGood].StreamArn(), *s[EnrichedBad].StreamArn()))
			// What the event-source mapping needs to read raw-good.
			role.AddToPolicy(allow([]string{"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
				"kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"}, *s[RawGood].StreamArn()))
			awslambda.NewEventSourceMapping(b.st, jsii.String("EnrichRawGood"), &awslambda.EventSourceMappingProps{
				Target:            fn,
				EventSourceArn:    s[RawGood].StreamArn(),
				StartingPosition:  awslambda.StartingPosition_TRIM_HORIZON,
				BatchSize:         jsii.Number(500),
				MaxBatchingWindow: awscdk.Duration_Seconds(jsii.Number(1)),
				// The handler reports the records it could not write; only
				// those are retried, until they succeed or expire.
				ReportBatchItemFailures: jsii.Bool(true),
			})
		case Pseudonymize:
			role.AddToPolicy(allow([]string{"secretsmanager:GetSecretValue"}, *b.key.SecretArn()))
		}
	}
}

func (b *builder) deliveries() {
	pseudo := b.fns[Pseudonymize]
	for _, r := range streamRoles {
		d, ok := b.names.Deliveries[r.role]
		if !ok {
			continue
		}
		src := b.streamsByRole[r.role]
		logs := awslogs.NewLogGroup(b.st, jsii.String("Delivery"+r.role+"Logs"), &awslogs.LogGroupProps{
			LogGroupName:  jsii.String("/aws/kinesisfirehose/" + d.Name),
			Retention:     awslogs.RetentionDays_ONE_MONTH,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		logStream := awslogs.NewLogStream(b.st, jsii.String("Delivery"+r.role+"LogStream"), &awslogs.LogStreamProps{
			LogGroup:      logs,
			LogStreamName: jsii.String("DestinationDelivery"),
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		role := awsiam.NewRole(b.st, jsii.String("Delivery"+r.role+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("firehose.amazonaws.com"), nil),
			Description: jsii.String("Firehose " + d.Name + ": read its stream, run the pseudonymizer, write its prefixes"),
		})
		pol := awsiam.NewPolicy(b.st, jsii.String("Delivery"+r.role+"Policy"), &awsiam.PolicyProps{
			Roles: &[]awsiam.IRole{role},
			Statements: &[]awsiam.PolicyStatement{
				allow([]string{"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
					"kinesis:GetRecords", "kinesis:ListShards"}, *src.StreamArn()),
				allow([]string{"s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"}, *b.bkt.BucketArn()),
				allow([]string{"s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"},
					*b.bkt.ArnForObjects(jsii.String(d.Prefix + "*")), *b.bkt.ArnForObjects(jsii.String(ProcessingFailedPrefix + "*"))),
				allow([]string{"lambda:InvokeFunction", "lambda:GetFunctionConfiguration"}, *pseudo.FunctionArn()),
				allow([]string{"logs:PutLogEvents"}, *awscdk.Fn_Join(jsii.String(""), &[]*string{
					jsii.String("arn:"), b.st.Partition(), jsii.String(":logs:"), b.st.Region(), jsii.String(":"), b.st.Account(),
					jsii.String(":log-group:"), logs.LogGroupName(), jsii.String(":log-stream:"), logStream.LogStreamName()})),
			},
		})
		ds := awskinesisfirehose.NewCfnDeliveryStream(b.st, jsii.String("Delivery"+r.role), &awskinesisfirehose.CfnDeliveryStreamProps{
			DeliveryStreamName: jsii.String(d.Name),
			DeliveryStreamType: jsii.String("KinesisStreamAsSource"),
			KinesisStreamSourceConfiguration: &awskinesisfirehose.CfnDeliveryStream_KinesisStreamSourceConfigurationProperty{
				KinesisStreamArn: src.StreamArn(),
				RoleArn:          role.RoleArn(),
			},
			ExtendedS3DestinationConfiguration: &awskinesisfirehose.CfnDeliveryStream_ExtendedS3DestinationConfigurationProperty{
				BucketArn:         b.bkt.BucketArn(),
				RoleArn:           role.RoleArn(),
				Prefix:            jsii.String(d.Prefix + PartitionSuffix),
				ErrorOutputPrefix: jsii.String(ProcessingFailedPrefix),
				CompressionFormat: jsii.String("GZIP"),
				// Dynamic partitioning needs at least 64 MB; 300 s keeps
				// an hour's prefix closed well within the exporter's
				// s3.close_after (20m).
				BufferingHints: &awskinesisfirehose.CfnDeliveryStream_BufferingHintsProperty{
					SizeInMBs: jsii.Number(64), IntervalInSeconds: jsii.Number(300),
				},
				DynamicPartitioningConfiguration: &awskinesisfirehose.CfnDeliveryStream_DynamicPartitioningConfigurationProperty{
					Enabled:      jsii.Bool(true),
					RetryOptions: &awskinesisfirehose.CfnDeliveryStream_RetryOptionsProperty{DurationInSeconds: jsii.Number(300)},
				},
				ProcessingConfiguration: &awskinesisfirehose.CfnDeliveryStream_ProcessingConfigurationProperty{
					Enabled: jsii.Bool(true),
					Processors: &[]*awskinesisfirehose.CfnDeliveryStream_ProcessorProperty{{
						Type: jsii.String("Lambda"),
						Parameters: &[]*awskinesisfirehose.CfnDeliveryStream_ProcessorParameterProperty{
							{ParameterName: jsii.String("LambdaArn"), ParameterValue: pseudo.FunctionArn()},
							{ParameterName: jsii.String("BufferSizeInMBs"), ParameterValue: jsii.String(fmt.Sprint(ProcessorBufferMB))},
							{ParameterName: jsii.String("BufferIntervalInSeconds"), ParameterValue: jsii.String("60")},
							{ParameterName: jsii.String("NumberOfRetries"), ParameterValue: jsii.String("3")},
						},
					}},
				},
				CloudWatchLoggingOptions: &awskinesisfirehose.CfnDeliveryStream_CloudWatchLoggingOptionsProperty{
					Enabled: jsii.Bool(true), LogGroupName: logs.LogGroupName(), LogStreamName: logStream.LogStreamName(),
				},
			},
		})
		// Firehose checks its role when the stream is created.
		ds.Node().AddDependency(pol)
	}
}

func (b *builder) alarms() {
	b.topic = awssns.NewTopic(b.st, jsii.String("Alarms"), &awssns.TopicProps{
		DisplayName: jsii.String("plowline alarms"),
	})
	action := awscloudwatchactions.NewSnsAction(b.topic)
	five := awscdk.Duration_Minutes(jsii.Number(5))
	alarm := func(id, name, desc string, m awscloudwatch.Metric, op awscloudwatch.ComparisonOperator, threshold, periods float64) {
		a := awscloudwatch.NewAlarm(b.st, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(name),
			AlarmDescription:   jsii.String(desc + " Runbooks: " + alerts.DefaultRunbookBaseURL),
			Metric:             m,
			ComparisonOperator: op,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(periods),
			DatapointsToAlarm:  jsii.Number(periods),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
	}
	metric := func(ns, name, stat string, dims map[string]string) awscloudwatch.Metric {
		d := map[string]*string{}
		for k, v := range dims {
			d[k] = jsii.String(v)
		}
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(ns), MetricName: jsii.String(name), Statistic: jsii.String(stat),
			Period: five, DimensionsMap: &d,
		})
	}
	critical := alerts.StreamBackingUpCriticalFraction * retentionHours * 3600 * 1000
	for _, r := range streamRoles {
		s := b.names.Streams[r.role].Name
		m := metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum", map[string]string{"StreamName": s})
		alarm("IteratorAgeWarning"+r.role, "plowline-"+s+"-iterator-age-warning",
			fmt.Sprintf("The consumer of %s is %s behind: stalled or under-provisioned (PlowlineStreamBackingUp warning).", s, alerts.StreamBackingUpWarningAge),
			m, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, float64(alerts.StreamBackingUpWarningAge.Milliseconds()), 3)
		alarm("IteratorAgeCritical"+r.role, "plowline-"+s+"-iterator-age-critical",
			fmt.Sprintf("The consumer of %s is a quarter of the %d h retention behind: records will expire unread (PlowlineStreamBackingUp critical).", s, retentionHours),
			m, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, critical, 1)
	}
	for _, f := range Functions {
		name := b.names.Functions[f.Role]
		alarm("Errors"+f.Role, "plowline-"+name+"-errors",
			fmt.Sprintf("Lambda %s has failed invocations for 15 minutes.", name),
			metric("AWS/Lambda", "Errors", "Sum", map[string]string{"FunctionName": name}),
			awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 3)
	}
	pseudo := b.names.Functions[Pseudonymize]
	for _, r := range streamRoles {
		d, ok := b.names.Deliveries[r.role]
		if !ok {
			continue
		}
		dim := map[string]string{"DeliveryStreamName": d.Name}
		alarm("DeliverySuccess"+r.role, "plowline-"+d.Name+"-delivery-to-s3-failing",
			fmt.Sprintf("Firehose %s fails to write to S3 (DeliveryToS3.Success below 1 for 15 minutes).", d.Name),
			metric("AWS/Firehose", "DeliveryToS3.Success", "Minimum", dim),
			awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, 3)
		alarm("DeliveryFreshness"+r.role, "plowline-"+d.Name+"-delivery-stale",
			fmt.Sprintf("Firehose %s holds records older than %s: delivery is failing or not keeping up (PlowlineFirehoseDeliveryStale).", d.Name, alerts.FirehoseFreshnessMax),
			metric("AWS/Firehose", "DeliveryToS3.DataFreshness", "Maximum", dim),
			awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, alerts.FirehoseFreshnessMax.Seconds(), 1)
		alarm("Processing"+r.role, "plowline-"+d.Name+"-processing-failing",
			fmt.Sprintf("Firehose %s cannot invoke the pseudonymizer (ExecuteProcessing.Success below 1 for 15 minutes); records go to %s.", d.Name, ProcessingFailedPrefix),
			metric("AWS/Firehose", "ExecuteProcessing.Success", "Minimum", dim),
			awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, 3)
		alarm("ProcessingFailedRecords"+r.role, "plowline-"+d.Name+"-records-not-pseudonymized",
			fmt.Sprintf("The pseudonymizer returned ProcessingFailed for records of %s: they are in %s unpseudonymized.", d.Name, ProcessingFailedPrefix),
			metric(metricname.Namespace, metricname.PseudonymizerRecords.Name, "Sum", map[string]string{
				metricname.LabelFunction: pseudo, metricname.LabelStream: d.Name, metricname.LabelResult: "processing_failed"}),
			awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1)
	}
}

func allow(actions []string, resources ...string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(resources...),
	})
}

// dashboardBody reads the committed CloudWatch dashboard body and adapts it
// to the stack: every widget's region becomes the stack's (${AWS::Region},
// resolved by Fn::Sub), and widgets charting resources the stack does not
// create (a load balancer: here the collector has a function URL) are
// dropped. Every other widget must chart only the stack's resources.
func dashboardBody(path string, names Names) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("dashboard body: %w (generate it with `make dashboards`)", err)
	}
	if strings.Contains(string(data), "${") {
		return "", fmt.Errorf("dashboard body %s contains ${, which Fn::Sub would substitute", path)
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		return "", fmt.Errorf("dashboard body %s: %w", path, err)
	}
	widgets, _ := body["widgets"].([]any)
	kept := make([]any, 0, len(widgets))
	for i, w := range widgets {
		wm, _ := w.(map[string]any)
		props, _ := wm["properties"].(map[string]any)
		if props == nil {
			return "", fmt.Errorf("dashboard body %s: widget %d has no properties", path, i)
		}
		if _, ok := props["region"]; ok {
			props["region"] = "${AWS::Region}"
		}
		if chartsLoadBalancer(props) {
			continue
		}
		kept = append(kept, w)
	}
	body["widgets"] = kept
	out, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("dashboard body %s: %w", path, err)
	}
	return string(out), nil
}

// chartsLoadBalancer says whether a metric widget charts an ELB metric.
func chartsLoadBalancer(props map[string]any) bool {
	metrics, _ := props["metrics"].([]any)
	for _, m := range metrics {
		line, _ := m.([]any)
		if len(line) > 0 {
			if ns, _ := line[0].(string); ns == "AWS/ApplicationELB" || ns == "AWS/NetworkELB" {
				return true
			}
		}
	}
	return false
}
