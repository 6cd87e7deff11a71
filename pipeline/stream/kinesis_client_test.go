package stream

import (
	"context"
	"strings"
	"testing"
)

func TestNewKinesisClientRefusesBadEndpoints(t *testing.T) {
	for _, ep := range []string{"127.0.0.1:4567", "not a url", "://x"} {
		_, err := NewKinesisClient(context.Background(), "", ep)
		if err == nil || !strings.Contains(err.Error(), ep) {
			t.Errorf("NewKinesisClient(%q) = %v, want an error naming it", ep, err)
		}
	}
}

// A loopback endpoint is an emulator: no credentials or region needed, and
// nothing looked up on the network.
func TestNewKinesisClientLoopbackNeedsNoAWSConfig(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	c, err := NewKinesisClient(context.Background(), "", "http://localhost:4567")
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Options().Region; r != "us-east-1" {
		t.Errorf("region = %q, want us-east-1", r)
	}
	creds, err := c.Options().Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID == "" {
		t.Errorf("credentials = %v, %v", creds.AccessKeyID, err)
	}
	if _, err := NewKinesisClient(context.Background(), "eu-west-1", "http://[::1]:4567"); err != nil {
		t.Errorf("IPv6 loopback: %v", err)
	}
}
