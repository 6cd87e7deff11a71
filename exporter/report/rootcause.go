package report

import (
	"math"
	"time"

	"github.com/plowline/plowline/exporter/config"
	"github.com/plowline/plowline/exporter/flow"
)

// Directions of a discrepancy, as incidents and cells name them.
const (
	// Lost: the downstream side counted fewer events than expected.
	Lost = "lost"
	// Duplicated: the downstream side counted more events than expected
	// (retries delivering twice, or events counted twice).
	Duplicated = "duplicated"
)

// Incident is an edge whose latest judged window is out of tolerance,
// summed over its current run of out-of-tolerance windows: what on-call
// copies into the incident.
type Incident struct {
	Edge string `json:"edge"`
	From string `json:"from"`
	To   string `json:"to"`
	// Direction is "lost" or "duplicated" (the sign of the total).
	Direction string `json:"direction"`
	// Events is how many events were lost (or duplicated) since the run
	// began: the sum of the discrepancies of its windows, as a magnitude.
	Events float64 `json:"events"`
	// LostEvents and DuplicatedEvents split Events by the windows'
	// directions: a run whose windows go both ways (events arriving a
	// window late, then early) nets out, and says so.
	LostEvents       float64 `json:"lost_events"`
	DuplicatedEvents float64 `json:"duplicated_events"`
	// Expected is the upstream count over the same windows; Ratio is
	// Events / Expected.
	Expected float64 `json:"expected"`
	Ratio    float64 `json:"ratio"`
	// Since is the first window of the run; Latest the latest judged one.
	Since  time.Time `json:"since"`
	Latest time.Time `json:"latest_window"`
	// LatestEvents is the latest window's discrepancy (positive: lost).
	LatestEvents float64 `json:"latest_discrepancy"`
	// Windows is how many windows of the run are out of tolerance.
	Windows int `json:"windows_out_of_tolerance"`
	// SinceClamped is set when the run may have begun before Since: no
	// window before it in the range was judged within tolerance (the
	// range starts there, or the earlier windows' counts are unknown).
	SinceClamped bool `json:"since_clamped,omitempty"`
	// SinceIsRangeStart says the run reaches the first window of the
	// range (--from, or the lookback): widen the range to see its start.
	SinceIsRangeStart bool `json:"since_is_range_start,omitempty"`
	// Downstream are other failing edges downstream of this one, which
	// most likely only inherit its discrepancy.
	Downstream []string `json:"downstream_failing,omitempty"`
}

// incident sums an edge's current run of out-of-tolerance windows.
func incident(er flow.EdgeReport) Incident {
	e := er.Edge
	in := Incident{Edge: e.Name, From: e.FromLabel(), To: e.ToLabel(), Since: er.Since}
	var disc float64
	judgedBefore := false
	for i, j := range er.Windows {
		if j.Window.Before(er.Since) {
			if j.Status == flow.OK || j.Status == flow.Out {
				judgedBefore = true
			}
			continue
		}
		if i == 0 {
			in.SinceIsRangeStart = true
		}
		if j.Status != flow.Out {
			continue
		}
		disc += j.Discrepancy
		if j.Discrepancy > 0 {
			in.LostEvents += j.Discrepancy
		} else {
			in.DuplicatedEvents -= j.Discrepancy
		}
		in.Expected += j.Expected
		in.Windows++
		in.Latest, in.LatestEvents = j.Window, j.Discrepancy
	}
	in.SinceClamped = !judgedBefore
	in.Direction = Lost
	if disc < 0 {
		in.Direction = Duplicated
	}
	in.Events = math.Abs(disc)
	if in.Expected != 0 {
		in.Ratio = in.Events / math.Abs(in.Expected)
	}
	return in
}

// upstreamOf returns, for every edge, the set of edges upstream of it: an
// edge is directly upstream of another when one of its downstream nodes
// is one of the other's upstream nodes; the relation is closed
// transitively.
func upstreamOf(edges []config.Edge) map[string]map[string]bool {
	into := map[string][]string{} // node → edges whose downstream side it is
	for _, e := range edges {
		into[e.To] = append(into[e.To], e.Name)
		if e.ToBad != "" {
			into[e.ToBad] = append(into[e.ToBad], e.Name)
		}
	}
	byName := map[string]config.Edge{}
	for _, e := range edges {
		byName[e.Name] = e
	}
	up := map[string]map[string]bool{}
	var visit func(name string) map[string]bool
	visiting := map[string]bool{}
	visit = func(name string) map[string]bool {
		if s, ok := up[name]; ok {
			return s
		}
		s := map[string]bool{}
		if visiting[name] {
			return s // a cycle in a hand-written graph: stop, never loop
		}
		visiting[name] = true
		e := byName[name]
		ins := []string{e.From}
		if e.FromAlso != "" {
			ins = append(ins, e.FromAlso)
		}
		for _, n := range ins {
			for _, p := range into[n] {
				if p == name {
					continue
				}
				s[p] = true
				for q := range visit(p) {
					s[q] = true
				}
			}
		}
		delete(s, name)
		visiting[name] = false
		up[name] = s
		return s
	}
	for _, e := range edges {
		visit(e.Name)
	}
	return up
}

// rootCauses returns the failing edges with no failing edge upstream of
// them — where the discrepancy starts — in the configuration's (pipeline)
// order, each naming the failing edges downstream of it.
func rootCauses(r flow.Report) []Incident {
	var edges []config.Edge
	failing := map[string]flow.EdgeReport{}
	for _, er := range r.Edges {
		edges = append(edges, er.Edge)
		if er.Latest != nil && er.Latest.Status == flow.Out {
			failing[er.Edge.Name] = er
		}
	}
	if len(failing) == 0 {
		return nil
	}
	up := upstreamOf(edges)
	var out []Incident
	for _, e := range edges {
		er, ok := failing[e.Name]
		if !ok {
			continue
		}
		root := true
		for p := range up[e.Name] {
			if _, f := failing[p]; f {
				root = false
				break
			}
		}
		if !root {
			continue
		}
		in := incident(er)
		for _, d := range edges {
			if _, f := failing[d.Name]; f && up[d.Name][e.Name] {
				in.Downstream = append(in.Downstream, d.Name)
			}
		}
		out = append(out, in)
	}
	if len(out) == 0 {
		// Every failing edge has a failing edge upstream (a cycle): name
		// them all rather than none.
		for _, e := range edges {
			if er, ok := failing[e.Name]; ok {
				out = append(out, incident(er))
			}
		}
	}
	return out
}
