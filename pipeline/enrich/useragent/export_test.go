package useragent

// FromParsed exposes the atomic mapping to the external test package.
var FromParsed = fromParsed

// KnownWritten returns every value of family f the rules can produce, as
// written.
func KnownWritten(f Family) []string { return knownOnce().written[f] }
