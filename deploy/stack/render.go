package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// TemplateFile is the committed template, relative to the repository root
// (the CloudFormation route of docs/deploy.md; `make deploy-template`
// rewrites it and a test fails when it is stale).
const TemplateFile = "deploy/template/" + DefaultStackName + ".template.json"

// Synthesized is one synthesis of the stack.
type Synthesized struct {
	Stack awscdk.Stack
	// Template is the CloudFormation template as decoded JSON.
	Template map[string]any
	// JSON is Template rendered as the committed file is.
	JSON []byte
}

// Synth defines the stack in a fresh CDK app and synthesizes it into a
// temporary cloud assembly that it removes afterwards.
func Synth(p Props) (s *Synthesized, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("synthesizing stack %s: %v", DefaultStackName, r)
		}
	}()
	dir, err := os.MkdirTemp("", "plowline-cdk-*")
	if err != nil {
		return nil, fmt.Errorf("cdk output directory: %w", err)
	}
	defer os.RemoveAll(dir)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir), AnalyticsReporting: jsii.Bool(false)})
	st, err := New(app, DefaultStackName, p)
	if err != nil {
		return nil, err
	}
	asm := app.Synth(nil)
	raw, err := json.Marshal(asm.GetStackByName(jsii.String(DefaultStackName)).Template())
	if err != nil {
		return nil, fmt.Errorf("encoding the synthesized template: %w", err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(raw, &tpl); err != nil {
		return nil, fmt.Errorf("decoding the synthesized template: %w", err)
	}
	out, err := Render(tpl)
	if err != nil {
		return nil, err
	}
	return &Synthesized{Stack: st, Template: tpl, JSON: out}, nil
}

// Render encodes a template as the committed file is: indented JSON with
// sorted keys and no HTML escaping, ending in a newline.
func Render(tpl map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tpl); err != nil {
		return nil, fmt.Errorf("encoding the template: %w", err)
	}
	return buf.Bytes(), nil
}

// QuietNodeWarning silences jsii's banner saying Debian's Node 20 is past
// its end of life (it runs the CDK fine and the banner buries test and CLI
// output), unless the variable is already set. Call it before the first
// CDK call.
func QuietNodeWarning() {
	const v = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
	if _, set := os.LookupEnv(v); !set {
		os.Setenv(v, "20")
	}
}
