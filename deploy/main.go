// Command deploy is plowline's AWS deployment as an AWS CDK app (see
// docs/deploy.md). Run from deploy/:
//
//	cdk deploy                                   # the CDK CLI runs `go run .` (cdk.json)
//	cdk deploy -c plowline:lambda-dir=../bin/lambda   # code from `make lambda` as CDK assets
//	go run . template                            # rewrite template/Plowline.template.json
//	go run . exporter-config -outputs out.json   # `plowline exporter` config for the deployed stack
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/plowline/plowline/deploy/exporterconfig"
	"github.com/plowline/plowline/deploy/stack"
)

// ContextLambdaDir is the CDK context key naming the directory of the
// Lambda zips; without it the code comes from the LambdaCodeBucket and
// LambdaCodeKeyPrefix parameters.
const ContextLambdaDir = "plowline:lambda-dir"

func main() {
	stack.QuietNodeWarning()
	err := run(os.Args[1:], os.Stdout)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return cdkApp(root)
	}
	switch args[0] {
	case "template":
		fs := flag.NewFlagSet("template", flag.ContinueOnError)
		check := fs.Bool("check", false, "only say whether the committed template is up to date (exit 1 if not)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return template(root, *check, stdout)
	case "exporter-config":
		fs := flag.NewFlagSet("exporter-config", flag.ContinueOnError)
		outputs := fs.String("outputs", "", "stack outputs: the file of `cdk deploy --outputs-file` or the JSON of `aws cloudformation describe-stacks` (- for stdin)")
		name := fs.String("stack", stack.DefaultStackName, "stack name (in a cdk outputs file)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *outputs == "" {
			return errors.New("exporter-config: -outputs is required")
		}
		return exporterConfig(*outputs, *name, stdout)
	}
	return fmt.Errorf("unknown command %q (want no argument for the CDK app, template or exporter-config)", args[0])
}

// cdkApp is what the CDK CLI runs: it passes context and the output
// directory in the environment, which awscdk.NewApp reads.
func cdkApp(root string) error {
	app := awscdk.NewApp(nil)
	p := stack.Props{RepoRoot: root}
	if v, ok := app.Node().TryGetContext(jsii.String(ContextLambdaDir)).(string); ok && v != "" {
		p.LambdaDir = v
	}
	if _, err := stack.New(app, stack.DefaultStackName, p); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}

func template(root string, check bool, stdout io.Writer) error {
	s, err := stack.Synth(stack.Props{RepoRoot: root})
	if err != nil {
		return err
	}
	path := filepath.Join(root, stack.TemplateFile)
	if check {
		old, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("committed template: %w", err)
		}
		if !bytes.Equal(old, s.JSON) {
			return fmt.Errorf("%s is stale: run `make deploy-template`", stack.TemplateFile)
		}
		fmt.Fprintln(stdout, stack.TemplateFile, "is up to date")
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, s.JSON, 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "wrote", stack.TemplateFile)
	return nil
}

func exporterConfig(path, name string, stdout io.Writer) error {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	outputs, err := exporterconfig.ReadOutputs(r, name)
	if err != nil {
		return err
	}
	c, err := exporterconfig.Build(outputs)
	if err != nil {
		return err
	}
	out, err := c.Marshal()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

// repoRoot finds the plowline checkout above the working directory (the
// CDK CLI runs the app in deploy/).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, stack.DashboardFile)); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no plowline checkout (with %s) at or above %s", stack.DashboardFile, dir)
		}
	}
}
