package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestLambdaRefusesFaultInjection(t *testing.T) {
	t.Setenv("PLOWLINE_FAULT", "drop 0.5 collector>raw-good")
	var stderr bytes.Buffer
	code := runMain([]string{"lambda", "pseudonymize"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "fault injection cannot be enabled in Lambda mode") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestLambdaUnknownStageNamesTheChoices(t *testing.T) {
	t.Setenv("_HANDLER", "")
	var stderr bytes.Buffer
	code := runMain([]string{"lambda", "nope"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), `"nope" unknown`) || !strings.Contains(stderr.String(), "pseudonymize") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
