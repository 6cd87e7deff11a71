package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// PutAPI is the part of the CloudWatch client Put uses.
type PutAPI interface {
	PutDashboard(ctx context.Context, in *awscw.PutDashboardInput, opts ...func(*awscw.Options)) (*awscw.PutDashboardOutput, error)
}

// Message is one of the validation messages CloudWatch returns for a body.
type Message struct {
	DataPath string
	Message  string
}

// String renders the message as CloudWatch reports it: the data path, if any, then the text.
func (m Message) String() string {
	if m.DataPath == "" {
		return m.Message
	}
	return m.DataPath + ": " + m.Message
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// ValidateName refuses a name PutDashboard would refuse: 1–255 characters
// of A–Z, a–z, 0–9, "-" and "_".
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("dashboard name %q: want 1-255 characters of A-Z, a-z, 0-9, - and _", name)
	}
	return nil
}

// Put uploads body as dashboard name and returns CloudWatch's validation
// messages. A body CloudWatch rejects is an error that carries the
// messages too (they say which widget is wrong).
func Put(ctx context.Context, api PutAPI, name string, body []byte) ([]Message, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	out, err := api.PutDashboard(ctx, &awscw.PutDashboardInput{DashboardName: aws.String(name), DashboardBody: aws.String(string(body))})
	if err != nil {
		var invalid *types.DashboardInvalidInputError
		if errors.As(err, &invalid) {
			msgs := messages(invalid.DashboardValidationMessages)
			return msgs, fmt.Errorf("CloudWatch rejected dashboard %s (%d validation messages): %w", name, len(msgs), err)
		}
		return nil, fmt.Errorf("PutDashboard %s: %w", name, err)
	}
	return messages(out.DashboardValidationMessages), nil
}

func messages(in []types.DashboardValidationMessage) []Message {
	out := make([]Message, 0, len(in))
	for _, m := range in {
		out = append(out, Message{DataPath: aws.ToString(m.DataPath), Message: aws.ToString(m.Message)})
	}
	return out
}

// ClientOptions configure the CloudWatch client.
type ClientOptions struct {
	// Region overrides the region from the environment and the topology.
	Region string
	// Endpoint overrides the service endpoint (a VPC endpoint, or a test double).
	Endpoint string
	// HTTPClient replaces the SDK's HTTP client (tests).
	HTTPClient *http.Client
}

// NewClient builds a CloudWatch client from the default credential chain.
// The HTTP client goes in through the service options, where it overrides
// whatever the shared configuration (e.g. AWS_CA_BUNDLE) set up.
func NewClient(ctx context.Context, o ClientOptions) (*awscw.Client, error) {
	var loadOpts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("no AWS region: pass --region or set AWS_REGION")
	}
	return awscw.NewFromConfig(cfg, func(opts *awscw.Options) {
		if o.Endpoint != "" {
			opts.BaseEndpoint = aws.String(o.Endpoint)
		}
		if o.HTTPClient != nil {
			opts.HTTPClient = o.HTTPClient
		}
	}), nil
}
