// Package dashboards generates every monitoring artefact plowline ships —
// Grafana dashboards (dashboards/grafana), the CloudWatch dashboard body
// (dashboards/cloudwatch), Prometheus alert rules with their promtool unit
// tests and runbooks (alerts/) — and writes them into the repository, so
// `make dashboards` is the only way they change.
package dashboards

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/plowline/plowline/alerts"
	"github.com/plowline/plowline/dashboards/cloudwatch"
	"github.com/plowline/plowline/dashboards/grafana"
	"github.com/plowline/plowline/exporter/config"
)

// Options are the deployment-specific inputs of the generated files.
type Options struct {
	// Topology names the AWS resources; GitLab's when empty.
	Topology config.Topology
	// Alerts sets the runbook and Grafana base URLs.
	Alerts alerts.Options
	// Nodes are the flow graph's node names in pipeline order (the funnel);
	// the default graph's when empty.
	Nodes []string
}

func (o Options) withDefaults() Options {
	if len(o.Topology.Streams) == 0 && len(o.Topology.Functions) == 0 && len(o.Topology.DeliveryStreams) == 0 {
		o.Topology = config.GitLabTopology()
	}
	o.Alerts.Topology = o.Topology
	return o
}

// managed are the globs of generated files, relative to the repository
// root; Write removes files matching them that it did not generate (a
// renamed alert must not leave its old runbook behind).
var managed = []string{
	"dashboards/grafana/*.json",
	"dashboards/cloudwatch/*.json",
	"alerts/plowline.rules*.yml",
	"alerts/runbooks/*.md",
}

// Files returns every generated file keyed by its path relative to the
// repository root.
func Files(o Options) (map[string][]byte, error) {
	o = o.withDefaults()
	out := map[string][]byte{}
	merge := func(m map[string][]byte, err error) error {
		if err != nil {
			return err
		}
		for k, v := range m {
			if _, dup := out[k]; dup {
				return fmt.Errorf("two generators write %s", k)
			}
			out[k] = v
		}
		return nil
	}
	if err := merge(grafana.Files(grafana.Options{Topology: o.Topology, Alerts: o.Alerts, Nodes: o.Nodes})); err != nil {
		return nil, err
	}
	if err := merge(cloudwatch.Files(o.Topology, o.Alerts)); err != nil {
		return nil, err
	}
	if err := merge(alerts.Files(o.Alerts)); err != nil {
		return nil, err
	}
	return out, nil
}

// Stale lists files under root that match a managed glob but are not in files.
func Stale(root string, files map[string][]byte) ([]string, error) {
	var stale []string
	for _, g := range managed {
		matches, err := filepath.Glob(filepath.Join(root, g))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			rel, err := filepath.Rel(root, m)
			if err != nil {
				return nil, err
			}
			if _, ok := files[filepath.ToSlash(rel)]; !ok {
				stale = append(stale, filepath.ToSlash(rel))
			}
		}
	}
	sort.Strings(stale)
	return stale, nil
}

// Write writes files under root, creating directories, and removes stale
// generated files. It returns the paths it changed and removed.
func Write(root string, files map[string][]byte) (changed, removed []string, err error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(root, filepath.FromSlash(p))
		if old, err := os.ReadFile(full); err == nil && string(old) == string(files[p]) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return changed, removed, fmt.Errorf("creating %s: %w", filepath.Dir(full), err)
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return changed, removed, fmt.Errorf("writing %s: %w", full, err)
		}
		changed = append(changed, p)
	}
	stale, err := Stale(root, files)
	if err != nil {
		return changed, removed, err
	}
	for _, p := range stale {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			return changed, removed, fmt.Errorf("removing stale %s: %w", p, err)
		}
		removed = append(removed, p)
	}
	return changed, removed, nil
}

// Diff compares files with what is under root: generated files that are
// missing or differ, and stale files no generator writes any more.
func Diff(root string, files map[string][]byte) ([]string, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []string
	for _, p := range paths {
		old, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, "missing: "+p)
		case err != nil:
			return nil, err
		case string(old) != string(files[p]):
			out = append(out, "differs: "+p)
		}
	}
	stale, err := Stale(root, files)
	if err != nil {
		return nil, err
	}
	for _, p := range stale {
		out = append(out, "stale: "+p)
	}
	return out, nil
}
