package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"
)

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"num":     func(v any) string { return Num(deref(v)) },
	"amount":  Amount,
	"pct":     func(v float64) string { return fmt.Sprintf("%.2f%%", 100*math.Abs(v)) },
	"pct1":    func(v float64) string { return fmt.Sprintf("%.1f%%", 100*math.Abs(v)) },
	"cell":    CellText,
	"nodesum": nodeSumText,
	"rel":     relSymbol,
	"tol":     tolText,
	"since": func(in Incident) string {
		return SinceText(in, "run plowline reconcile with an earlier --from to see when it began")
	},
	"label":    func(w time.Time) string { return w.Format("15:04") },
	"span":     func(s Span) string { return s.Start.Format("15:04") },
	"legend":   func() []LegendItem { return Legend },
	"hhmm":     func(w time.Time) string { return stamp(w, false) },
	"total":    TotalText,
	"negative": func(v float64) bool { return v < 0 },
}).Parse(pageHTML))

func deref(v any) float64 {
	switch x := v.(type) {
	case *float64:
		return *x
	case float64:
		return x
	}
	return 0
}

// WriteHTML renders the on-call page. prefix is the path the page's links
// are relative to (the handler's mount point) and metricsPath where the
// metrics are served.
func (t Table) WriteHTML(w io.Writer, prefix, metricsPath string) error {
	tpl, err := page.Clone()
	if err != nil {
		return err
	}
	tpl.Funcs(template.FuncMap{"label": t.windowLabel, "span": t.spanLabel})
	roots := map[string]bool{}
	for _, in := range t.RootCause {
		roots[in.Edge] = true
	}
	var also []Incident
	for _, in := range t.Incidents {
		if !roots[in.Edge] {
			also = append(also, in)
		}
	}
	return tpl.Execute(w, struct {
		T                   Table
		Also                []Incident
		Prefix, MetricsPath string
	}{t, also, prefix, metricsPath})
}
