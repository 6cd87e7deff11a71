package report

import (
	"math"
	"time"

	"github.com/plowline/plowline/exporter/flow"
)

// Span is a column of the rendered tables: one window, or a group of
// older windows summarised so that a long range (six hours of one-minute
// windows) stays a handful of columns.
type Span struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Windows int       `json:"windows"`
}

// NodeSum is one node's count over a span of windows: the sum of the
// windows whose count is known, and how many are unknown.
type NodeSum struct {
	Count   *float64 `json:"count"`
	Unknown int      `json:"unknown_windows,omitempty"`
}

// niceSpans are the group widths older windows are summarised in, the
// smallest that keeps them within maxEarlierGroups columns.
var niceSpans = []time.Duration{
	2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// maxEarlierGroups is how many columns summarise the windows older than
// the ones shown one by one: enough to see when an incident began in a
// long range, few enough that the newest windows fit beside them.
const maxEarlierGroups = 4

// groupWindows splits the older windows into aligned groups of a nice
// width (a multiple of the window), at most maxGroups of them. It returns
// for each group its span and the indexes [lo, hi) into windows.
func groupWindows(windows []time.Time, window time.Duration, maxGroups int) ([]Span, [][2]int) {
	if len(windows) == 0 || window <= 0 {
		return nil, nil
	}
	first, end := windows[0], windows[len(windows)-1].Add(window)
	width := time.Duration(0)
	for _, s := range niceSpans {
		if s <= window || s%window != 0 {
			continue
		}
		if groups := math.Ceil(float64(end.Sub(flow.Align(first, s))) / float64(s)); groups <= float64(maxGroups) {
			width = s
			break
		}
	}
	if width == 0 {
		// No nice width is wide enough: equal groups of whole windows.
		per := (len(windows) + maxGroups - 1) / maxGroups
		width = time.Duration(per) * window
	}
	var spans []Span
	var idx [][2]int
	for i := 0; i < len(windows); {
		stop := flow.Align(windows[i], width).Add(width)
		j := i
		for j < len(windows) && windows[j].Before(stop) {
			j++
		}
		if j == i { // never loop forever on odd input
			j = i + 1
		}
		s := Span{Start: windows[i], End: windows[j-1].Add(window), Windows: j - i}
		spans = append(spans, s)
		idx = append(idx, [2]int{i, j})
		i = j
	}
	return spans, idx
}

// aggregate summarises an edge over a group of windows: out if any window
// is out, else ok if any is judged; counts summed over judged windows.
func aggregate(js []flow.Judgement, span Span) Cell {
	c := Cell{Window: span.Start, End: span.End, Windows: span.Windows}
	var judged, unknown, out int
	for _, j := range js {
		switch j.Status {
		case flow.OK, flow.Out:
			judged++
			c.Expected += j.Expected
			c.Observed += j.Observed
			c.Discrepancy += j.Discrepancy
			c.Allowed += j.Allowed
			if j.Status == flow.Out {
				out++
			}
		case flow.Unknown:
			unknown++
		}
	}
	c.OutWindows = out
	switch {
	case out > 0:
		c.Status = string(flow.Out)
	case judged > 0:
		c.Status = string(flow.OK)
	case unknown > 0:
		c.Status = string(flow.Unknown)
	default:
		c.Status = string(flow.Pending)
	}
	if c.Expected != 0 {
		c.Ratio = finite(c.Discrepancy / c.Expected)
	}
	return c
}

// sumCounts sums a node's known counts over windows.
func sumCounts(counts map[time.Time]float64, windows []time.Time) NodeSum {
	var s NodeSum
	var total float64
	known := false
	for _, w := range windows {
		if v, ok := counts[w]; ok {
			total += v
			known = true
		} else {
			s.Unknown++
		}
	}
	if known {
		s.Count = &total
	}
	return s
}
