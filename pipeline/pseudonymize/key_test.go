package pseudonymize

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// secretsDouble speaks the Secrets Manager wire protocol (JSON 1.1,
// X-Amz-Target: secretsmanager.GetSecretValue) for the secrets it holds.
func secretsDouble(t *testing.T, secrets map[string]string) (*secretsmanager.Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		if !strings.Contains(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var in struct{ SecretId string }
		json.Unmarshal(body, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": "ResourceNotFoundException", "Message": "Secrets Manager can't find the specified secret."})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretId,
			"Name": in.SecretId, "SecretString": v, "VersionId": "v1", "VersionStages": []string{"AWSCURRENT"}})
	}))
	t.Cleanup(srv.Close)
	client := secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "test-secret-access-key", ""),
		HTTPClient:   srv.Client(),
	})
	return client, &calls
}

func TestLoadKeyFromSecretsManagerOnce(t *testing.T) {
	client, calls := secretsDouble(t, map[string]string{"plowline/hmac-" + t.Name(): "sm-key-material-0123456789\n"})
	src := KeySource{SecretID: "plowline/hmac-" + t.Name()}
	for i := 0; i < 3; i++ {
		k, err := LoadKey(context.Background(), src, client)
		if err != nil {
			t.Fatal(err)
		}
		if string(k) != "sm-key-material-0123456789" {
			t.Fatalf("key = %q", k)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("Secrets Manager called %d times, want once (cached per process)", n)
	}
	_, err := LoadKey(context.Background(), KeySource{SecretID: "missing-" + t.Name()}, client)
	if err == nil || !strings.Contains(err.Error(), "missing-"+t.Name()) {
		t.Fatalf("missing secret: %v", err)
	}
}

func TestLoadKeyFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	os.WriteFile(path, []byte("file-key-material\n"), 0o600)
	k, err := LoadKey(context.Background(), KeySource{File: path}, nil)
	if err != nil || string(k) != "file-key-material" {
		t.Fatalf("file key %q, %v", k, err)
	}
	env := "PLOWLINE_TEST_KEY_" + strings.ToUpper(t.Name())
	t.Setenv(env, "env-key-material")
	k, err = LoadKey(context.Background(), KeySource{Env: env}, nil)
	if err != nil || string(k) != "env-key-material" {
		t.Fatalf("env key %q, %v", k, err)
	}
	// Errors name the source, never the key.
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	for _, c := range []struct {
		src  KeySource
		want string
	}{
		{KeySource{}, "no HMAC key"},
		{KeySource{File: path, Env: env}, "exactly one"},
		{KeySource{File: filepath.Join(dir, "nope")}, "nope"},
		{KeySource{File: empty}, "empty"},
		{KeySource{Env: "PLOWLINE_TEST_UNSET_VARIABLE"}, "PLOWLINE_TEST_UNSET_VARIABLE"},
	} {
		_, err := LoadKey(context.Background(), c.src, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to mention %q", c.src, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "file-key-material") || strings.Contains(err.Error(), "env-key-material")) {
			t.Errorf("error leaks the key: %v", err)
		}
	}
	if _, err := LoadKey(context.Background(), KeySource{}, nil); !errors.Is(err, ErrNoKey) {
		t.Errorf("no source: %v, want ErrNoKey", err)
	}
}
