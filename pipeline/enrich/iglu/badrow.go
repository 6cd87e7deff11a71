package iglu

import (
	"errors"

	"github.com/plowline/plowline/pipeline/badrow"
)

// BadRowMessage turns a resolution or validation error from Validate into
// the Iglu-error message the bad-row schemas define.
func BadRowMessage(key SchemaKey, err error) badrow.Message {
	var (
		re *ResolutionError
		de *DataError
		se *SchemaError
	)
	switch {
	case errors.As(err, &re):
		hs := make([]badrow.LookupHistory, 0, len(re.History))
		for _, l := range re.History {
			errs := make([]badrow.LookupError, 0, len(l.Errors))
			for _, e := range l.Errors {
				errs = append(errs, badrow.LookupError{Kind: e.Kind, Message: e.Message})
			}
			hs = append(hs, badrow.LookupHistory{Repository: l.Repository, Errors: errs, Attempts: l.Attempts, LastAttempt: l.LastAttempt})
		}
		return badrow.IgluResolutionError(key.String(), hs)
	case errors.As(err, &de):
		rs := make([]badrow.DataReport, 0, len(de.Reports))
		for _, r := range de.Reports {
			rs = append(rs, badrow.DataReport{Message: r.Message, Path: r.Path, Keyword: r.Keyword, Targets: r.Targets})
		}
		return badrow.IgluValidationError(key.String(), rs)
	case errors.As(err, &se):
		is := make([]badrow.SchemaIssue, 0, len(se.Issues))
		for _, i := range se.Issues {
			is = append(is, badrow.SchemaIssue{Path: i.Path, Message: i.Message})
		}
		return badrow.IgluSchemaInvalid(key.String(), is)
	default:
		return badrow.IgluValidationError(key.String(), []badrow.DataReport{{Message: err.Error(), Path: "$"}})
	}
}
