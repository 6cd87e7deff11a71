package iglu

import "context"

// Raw returns the schema document for key as the first registry in the
// resolver's order holds it, without compiling it, or a *ResolutionError
// naming every registry's answer. It bypasses the compiled-schema cache:
// it serves lookups by people (the Micro API's /micro/iglu), not events.
func (r *Resolver) Raw(ctx context.Context, key SchemaKey) ([]byte, error) {
	raw, history := r.fetch(ctx, key)
	if raw == nil {
		return nil, &ResolutionError{Key: key, History: history}
	}
	return raw, nil
}
