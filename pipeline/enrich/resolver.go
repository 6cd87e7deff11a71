package enrich

import "github.com/plowline/plowline/pipeline/enrich/iglu"

// Resolver returns the enricher's Iglu resolver, so that a schema lookup
// elsewhere (the Micro API's /micro/iglu) answers exactly as validation does.
func (e *Enricher) Resolver() *iglu.Resolver { return e.resolver }
