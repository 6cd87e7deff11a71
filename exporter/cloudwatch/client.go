package cloudwatch

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// NewClient builds the production CloudWatch client for cfg: credentials
// and region from the SDK's default chain (cfg.Region overrides the
// region), cfg.Endpoint as the base endpoint if set. The SDK's own retries
// are off: the source retries, so that every attempt is counted and
// backoff respects the refresh deadline. The HTTP client stays the SDK's
// (it honours AWS_CA_BUNDLE); anything that must change it belongs in the
// service options, as config.WithHTTPClient breaks AWS_CA_BUNDLE.
func NewClient(ctx context.Context, cfg Config) (*cloudwatch.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration for CloudWatch: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("no AWS region for CloudWatch: set the source's region or AWS_REGION")
	}
	return cloudwatch.NewFromConfig(awsCfg, func(o *cloudwatch.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.Retryer = aws.NopRetryer{}
	}), nil
}
