package pseudonymize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
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

// MinKeyBytes is the shortest key used without a warning: HMAC-SHA256
// keys should carry at least the hash's 32 bytes of entropy.
const MinKeyBytes = 32

// KeyWarning returns a warning for a key shorter than MinKeyBytes (after
// trimming), naming the source and the length but never the key; "" for
// a long enough key.
func KeyWarning(src KeySource, key []byte) string {
	if len(key) >= MinKeyBytes {
		return ""
	}
	return fmt.Sprintf("HMAC key from %s is %d bytes, shorter than %d: pseudonyms of guessable values are easier to brute-force; use 32 random bytes (head -c 32 /dev/urandom | base64)",
		src, len(key), MinKeyBytes)
}

// CheckKeyFile refuses a key file that group or others may read, as
// plowline run does for its own key: the key is what keeps pseudonyms
// irreversible.
func CheckKeyFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading HMAC key: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("HMAC key file %s is readable by group or others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	return nil
}

// Sources returns how many key sources src sets (exactly one is valid).
func (s KeySource) Sources() int {
	n := 0
	for _, v := range []string{s.File, s.Env, s.SecretID} {
		if v != "" {
			n++
		}
	}
	return n
}

// ErrNoKey is returned when no key source is configured.
var ErrNoKey = errors.New("no HMAC key configured: set a key file, an environment variable or a Secrets Manager secret id")

var keyCache sync.Map // KeySource → []byte

// LoadKey reads the HMAC key from src once per process and caches it; later
// calls with the same source return the cached key. For a SecretID, client
// may be nil: a client is then built from the default AWS configuration.
// Errors name the source, never the key.
func LoadKey(ctx context.Context, src KeySource, client SecretsClient) ([]byte, error) {
	n := src.Sources()
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
