package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/plowline/plowline/alerts"
	"github.com/plowline/plowline/dashboards"
	"github.com/plowline/plowline/dashboards/cloudwatch"
	"github.com/plowline/plowline/exporter/config"
)

func init() {
	register(&command{
		name:    "dashboards",
		summary: "generate Grafana/CloudWatch dashboards, alert rules and runbooks; upload the CloudWatch dashboard",
		run:     runDashboards,
	})
}

const dashboardsUsage = `Usage: plowline dashboards <subcommand> [flags]

Subcommands:
  generate     write Grafana JSON, the CloudWatch body, alert rules, promtool tests and runbooks into the repository
  cloudwatch   print the CloudWatch dashboard body, or upload it with PutDashboard (--put)

Run 'plowline dashboards <subcommand> --help' for its flags.
`

func runDashboards(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, dashboardsUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	switch args[0] {
	case "generate":
		return runDashboardsGenerate(args[1:], stdout, stderr)
	case "cloudwatch":
		return runDashboardsCloudWatch(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, dashboardsUsage)
	return &exitError{code: 2, err: fmt.Errorf("unknown subcommand %q", args[0])}
}

// urlFlags registers the base URLs the generated files link to.
func urlFlags(fs *flag.FlagSet) (runbook, grafanaURL *string) {
	runbook = fs.String("runbook-url", alerts.DefaultRunbookBaseURL, "base URL of the runbooks; runbook_url is <base>/<Alert>.md")
	grafanaURL = fs.String("grafana-url", alerts.DefaultGrafanaURL, "base URL of Grafana; dashboard_url is <base>/d/<uid>")
	return
}

func checkBaseURL(flagName, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &exitError{code: 2, err: fmt.Errorf("--%s %q: want an absolute http(s) URL", flagName, v)}
	}
	return nil
}

// exporterGraph reads the exporter configuration's topology and node names
// (pipeline order), or GitLab's default graph when no configuration is given.
func exporterGraph(path, region string) (config.Topology, []string, error) {
	c := config.Default()
	if path != "" {
		var err error
		if c, err = config.Load(path); err != nil {
			return config.Topology{}, nil, &exitError{code: 2, err: err}
		}
	}
	t := c.Topology
	if region != "" {
		t.Region = region
	}
	if t.Region == "" {
		return config.Topology{}, nil, &exitError{code: 2, err: fmt.Errorf("--config %s: topology.region is empty: set it in the configuration", path)}
	}
	if len(t.Streams) == 0 && len(t.DeliveryStreams) == 0 && len(t.Functions) == 0 {
		return config.Topology{}, nil, &exitError{code: 2, err: fmt.Errorf("--config %s: topology names no streams, delivery streams or functions", path)}
	}
	if err := (alerts.Options{Topology: t}).Validate(); err != nil {
		return config.Topology{}, nil, &exitError{code: 2, err: fmt.Errorf("--config %s: %w", path, err)}
	}
	var nodes []string
	for _, n := range c.Nodes {
		nodes = append(nodes, n.Name)
	}
	return t, nodes, nil
}

func runDashboardsGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dashboards generate", "dashboards generate [--out DIR] [--config exporter.yaml] [--runbook-url URL] [--grafana-url URL] [--check]", stderr)
	out := fs.String("out", ".", "repository root to write into (dashboards/grafana, dashboards/cloudwatch, alerts/)")
	cfgPath := fs.String("config", "", "exporter configuration whose topology names the AWS resources (default: GitLab's topology)")
	runbook, grafanaURL := urlFlags(fs)
	check := fs.Bool("check", false, "write nothing; exit 1 and list the files that differ from what would be generated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	if err := checkBaseURL("runbook-url", *runbook); err != nil {
		return err
	}
	if err := checkBaseURL("grafana-url", *grafanaURL); err != nil {
		return err
	}
	t, nodes, err := exporterGraph(*cfgPath, "")
	if err != nil {
		return err
	}
	files, err := dashboards.Files(dashboards.Options{Topology: t, Nodes: nodes, Alerts: alerts.Options{RunbookBaseURL: *runbook, GrafanaURL: *grafanaURL}})
	if err != nil {
		return err
	}
	if *check {
		diff, err := dashboards.Diff(*out, files)
		if err != nil {
			return err
		}
		for _, d := range diff {
			fmt.Fprintln(stdout, d)
		}
		if len(diff) > 0 {
			return &exitError{code: 1, err: fmt.Errorf("%d generated files out of date: run make dashboards", len(diff))}
		}
		return nil
	}
	changed, removed, err := dashboards.Write(*out, files)
	if err != nil {
		return err
	}
	for _, p := range changed {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	for _, p := range removed {
		fmt.Fprintf(stdout, "removed %s\n", p)
	}
	fmt.Fprintf(stdout, "%d files generated, %d changed, %d removed\n", len(files), len(changed), len(removed))
	return nil
}

func runDashboardsCloudWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dashboards cloudwatch", "dashboards cloudwatch [--put] [--name SnowPlow] [--config exporter.yaml] [--region R] [--endpoint URL]", stderr)
	put := fs.Bool("put", false, "upload the body with PutDashboard and print CloudWatch's validation messages (default: print the body)")
	name := fs.String("name", cloudwatch.DefaultName, "dashboard name (1-255 of A-Z a-z 0-9 - _)")
	cfgPath := fs.String("config", "", "exporter configuration whose topology names the AWS resources (default: GitLab's topology)")
	region := fs.String("region", "", "AWS region of the widgets and of the API call (default: the topology's region)")
	endpoint := fs.String("endpoint", "", "CloudWatch endpoint URL (default: the SDK's for the region)")
	runbook := fs.String("runbook-url", alerts.DefaultRunbookBaseURL, "base URL of the runbooks linked from the dashboard's header")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: plowline dashboards cloudwatch [--put] [--name SnowPlow] [--config exporter.yaml] [--region R] [--endpoint URL]

Builds the CloudWatch dashboard body (load balancer new flows, collector
invocations, Kinesis incoming records and iterator age per stream, Firehose
incoming / delivered to S3 / data freshness per delivery stream, Lambda
errors and duration per function) from the topology, and prints it; with
--put, uploads it with PutDashboard and prints CloudWatch's validation
messages. Credentials come from the AWS default chain (environment, shared
config, instance or task role) and need cloudwatch:PutDashboard.

Exit status: 0 uploaded (or printed), 1 CloudWatch refused it, 2 bad flags.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	if err := cloudwatch.ValidateName(*name); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--name: %w", err)}
	}
	if err := checkBaseURL("runbook-url", *runbook); err != nil {
		return err
	}
	if *endpoint != "" {
		if err := checkBaseURL("endpoint", *endpoint); err != nil {
			return err
		}
	}
	t, _, err := exporterGraph(*cfgPath, *region)
	if err != nil {
		return err
	}
	body, err := cloudwatch.Render(t, alerts.Options{RunbookBaseURL: *runbook})
	if err != nil {
		return err
	}
	if !*put {
		_, err := stdout.Write(body)
		return err
	}
	client, err := cloudwatch.NewClient(ctx, cloudwatch.ClientOptions{Region: t.Region, Endpoint: *endpoint})
	if err != nil {
		return err
	}
	msgs, err := cloudwatch.Put(ctx, client, *name, body)
	for _, m := range msgs {
		fmt.Fprintf(stdout, "validation: %s\n", m)
	}
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		fmt.Fprintf(stdout, "dashboard %s uploaded; no validation messages\n", *name)
	} else {
		fmt.Fprintf(stdout, "dashboard %s uploaded with %d validation messages\n", *name, len(msgs))
	}
	return nil
}
