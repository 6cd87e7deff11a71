package pseudonymize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// KeySource says where the HMAC key comes from; exactly one field is set.
// Surrounding whitespace (a trailing newline in a file) is trimmed.
type KeySource struct {
	File     string // path of a file holding the key
	Env      string // name of an environment variable holding the key
	SecretID string // AWS Secrets Manager secret id or ARN (SecretString or SecretBinary)
}

// String names the source without the key.
func (s KeySource) String() string {
	switch {
	case s.File != "":
		return "file " + s.File
	case s.Env != "":
		return "environment variable " + s.Env
	case s.SecretID != "":
		return "Secrets Manager secret " + s.SecretID
	}
	return "no key source"
}

// SecretsClient is the part of the Secrets Manager client LoadKey uses.
type SecretsClient interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ErrNoKey is returned when no key source is configured.
var ErrNoKey = errors.New("no HMAC key configured: set a key file, an environment variable or a Secrets Manager secret id")

var keyCache sync.Map // KeySource → []byte

// LoadKey reads the HMAC key from src once per process and caches it; later
// calls with the same source return the cached key. For a SecretID, client
// may be nil: a client is then built from the default AWS configuration.
// Errors name the source, never the key.
func LoadKey(ctx context.Context, src KeySource, client SecretsClient) ([]byte, error) {
	n := 0
	for _, s := range []string{src.File, src.Env, src.SecretID} {
		if s != "" {
			n++
		}
	}
	if n == 0 {
		return nil, ErrNoKey
	}
	if n > 1 {
		return nil, errors.New("HMAC key: set exactly one of key file, key environment variable, key secret id")
	}
	if k, ok := keyCache.Load(src); ok {
		return bytes.Clone(k.([]byte)), nil
	}
	k, err := readKey(ctx, src, client)
	if err != nil {
		return nil, err
	}
	k = bytes.TrimSpace(k)
	if len(k) == 0 {
		return nil, fmt.Errorf("HMAC key from %s is empty", src)
	}
	actual, _ := keyCache.LoadOrStore(src, k)
	return bytes.Clone(actual.([]byte)), nil
}

func readKey(ctx context.Context, src KeySource, client SecretsClient) ([]byte, error) {
	switch {
	case src.File != "":
		b, err := os.ReadFile(src.File)
		if err != nil {
			return nil, fmt.Errorf("reading HMAC key: %w", err)
		}
		return b, nil
	case src.Env != "":
		v, ok := os.LookupEnv(src.Env)
		if !ok {
			return nil, fmt.Errorf("HMAC key: environment variable %s is not set", src.Env)
		}
		return []byte(v), nil
	}
	if client == nil {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("HMAC key: loading AWS configuration: %w", err)
		}
		client = secretsmanager.NewFromConfig(cfg)
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(src.SecretID)})
	if err != nil {
		return nil, fmt.Errorf("HMAC key: reading Secrets Manager secret %s: %w", src.SecretID, err)
	}
	if out.SecretString != nil {
		return []byte(*out.SecretString), nil
	}
	if len(out.SecretBinary) > 0 {
		return out.SecretBinary, nil
	}
	return nil, fmt.Errorf("HMAC key: Secrets Manager secret %s has no value", src.SecretID)
}
