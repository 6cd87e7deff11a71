package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"num":    func(v any) string { return Num(deref(v)) },
	"signed": func(v float64) string { return signed(v) },
	"pct":    func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) },
	"cell":   CellText,
	"rel":    relSymbol,
	"tol":    tolText,
	"label":  func(w time.Time) string { return w.Format("15:04") },
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
	tpl.Funcs(template.FuncMap{"label": t.windowLabel})
	return tpl.Execute(w, struct {
		T                   Table
		Prefix, MetricsPath string
	}{t, prefix, metricsPath})
}
