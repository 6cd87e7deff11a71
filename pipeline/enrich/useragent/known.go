package useragent

import (
	"regexp/syntax"
	"strings"
	"sync"

	"github.com/ua-parser/uap-go/uaparser"
	"go.yaml.in/yaml/v3"
)

// What ua-parser reports is partly free text copied from the agent: a
// rule like `; (SM-[^;]+) Build` with device_replacement "Samsung $1"
// copies whatever the agent holds there ("S20-wendy@example.com"), and bot
// rules copy the bot's self-chosen name. The pseudonymizer keeps a parsed
// value in clear only when the rules can produce it without such a copy:
// a replacement's literal text, or a capture group whose regex matches a
// finite, small set of strings (`(Firefox|Fennec)`). KnownFamily and
// KnownVersion answer that.

// Family names a field of the parsed agent.
type Family int

// The three families ua-parser reports.
const (
	UserAgentFamily Family = iota
	OSFamily
	DeviceFamily
)

// maxAlternatives bounds the strings enumerated for one capture group: a
// larger set is treated as free text.
const maxAlternatives = 256

type rule struct {
	Regex  string `yaml:"regex"`
	Flags  string `yaml:"regex_flag"`
	Family string `yaml:"family_replacement"`
	OS     string `yaml:"os_replacement"`
	Device string `yaml:"device_replacement"`
}

// known holds, per Family, the values the rules can produce: as written
// and case-folded (the lookup set), and the written forms in rule order
// (for tests that walk every value).
type known struct {
	set     [3]map[string]bool
	written [3][]string
}

var knownOnce = sync.OnceValue(func() *known {
	var defs struct {
		UA     []rule `yaml:"user_agent_parsers"`
		OS     []rule `yaml:"os_parsers"`
		Device []rule `yaml:"device_parsers"`
	}
	k := &known{}
	add := func(i int, v string) {
		if !k.set[i][v] {
			k.written[i] = append(k.written[i], v)
		}
		// As written (the usual lookup, no allocation) and folded.
		k.set[i][v] = true
		k.set[i][strings.ToLower(strings.TrimSpace(v))] = true
	}
	for i := range k.set {
		// "Other" is what ua-parser reports when no rule matches.
		k.set[i] = map[string]bool{}
		add(i, "Other")
	}
	// The atomic fields rename some families (br_family "Internet
	// Explorer" for ua-parser's "IE"): the new names are the mapping's
	// own literals, never agent text.
	for _, v := range browserFamilies {
		add(int(UserAgentFamily), v)
	}
	for _, v := range osFamilies {
		add(int(OSFamily), v)
	}
	if err := yaml.Unmarshal(uaparser.DefinitionYaml, &defs); err != nil {
		// Compiled into the binary and checked by the tests; with no rules
		// nothing but "Other" is known, which only pseudonymizes more.
		return k
	}
	for i, rules := range [3][]rule{defs.UA, defs.OS, defs.Device} {
		for _, r := range rules {
			repl := [3]string{r.Family, r.OS, r.Device}[i]
			if repl == "" {
				repl = "$1"
			}
			for _, v := range expand(r, repl) {
				add(i, v)
			}
		}
	}
	return k
})

// expand returns every value repl can take for rule r, or nil when one of
// the capture groups it copies is free text.
func expand(r rule, repl string) []string {
	flags := syntax.Perl
	if strings.Contains(r.Flags, "i") {
		flags |= syntax.FoldCase
	}
	var re *syntax.Regexp
	results := []string{""}
	for repl != "" {
		i := strings.IndexByte(repl, '$')
		if i < 0 || i+1 >= len(repl) || repl[i+1] < '1' || repl[i+1] > '9' {
			lit := repl
			if i >= 0 {
				lit = repl[:i+1]
				repl = repl[i+1:]
			} else {
				repl = ""
			}
			for j := range results {
				results[j] += lit
			}
			continue
		}
		for j := range results {
			results[j] += repl[:i]
		}
		n := int(repl[i+1] - '0')
		repl = repl[i+2:]
		if re == nil {
			var err error
			if re, err = syntax.Parse(r.Regex, flags); err != nil {
				return nil
			}
		}
		g := group(re, n)
		if g == nil {
			// No such group: ua-parser expands it to "".
			continue
		}
		alts, ok := language(g, maxAlternatives)
		if !ok {
			return nil
		}
		// A group that did not take part in the match expands to "".
		alts = append(alts, "")
		next := make([]string, 0, len(results)*len(alts))
		for _, p := range results {
			for _, a := range alts {
				next = append(next, p+a)
			}
		}
		if len(next) > maxAlternatives*4 {
			return nil
		}
		results = next
	}
	return results
}

// group finds capture group n in re.
func group(re *syntax.Regexp, n int) *syntax.Regexp {
	if re.Op == syntax.OpCapture && re.Cap == n {
		return re.Sub[0]
	}
	for _, s := range re.Sub {
		if g := group(s, n); g != nil {
			return g
		}
	}
	return nil
}

// language returns the strings re matches when they are finitely many
// (at most limit), else false. Case-folded literals give their written
// form; KnownFamily compares case-insensitively.
func language(re *syntax.Regexp, limit int) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}, true
	case syntax.OpLiteral:
		return []string{string(re.Rune)}, true
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(out) >= 16 {
					return nil, false
				}
				out = append(out, string(r))
			}
		}
		return out, true
	case syntax.OpCapture:
		return language(re.Sub[0], limit)
	case syntax.OpQuest:
		sub, ok := language(re.Sub[0], limit-1)
		return append(sub, ""), ok
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			sub, ok := language(s, limit-len(out))
			if !ok {
				return nil, false
			}
			out = append(out, sub...)
			if len(out) > limit {
				return nil, false
			}
		}
		return out, true
	case syntax.OpConcat:
		out := []string{""}
		for _, s := range re.Sub {
			sub, ok := language(s, limit)
			if !ok {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(sub))
			for _, p := range out {
				for _, q := range sub {
					next = append(next, p+q)
				}
			}
			if len(next) > limit {
				return nil, false
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

// KnownFamily reports whether v is a family the ua-parser rules can
// report without copying free text from the agent (compared without
// regard to case or surrounding space). "Other" is always known.
func KnownFamily(f Family, v string) bool {
	if f < UserAgentFamily || f > DeviceFamily {
		return false
	}
	m := knownOnce().set[f]
	if m[v] {
		return true
	}
	v = strings.TrimSpace(v)
	// Fold ASCII on the stack: the lookup then allocates nothing.
	var buf [64]byte
	if len(v) <= len(buf) {
		ascii := true
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c >= 0x80 {
				ascii = false
				break
			}
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if ascii {
			return m[string(buf[:len(v)])]
		}
	}
	return m[strings.ToLower(v)]
}

// KnownVersion reports whether v is a version part that can be kept in
// clear: one to nine ASCII digits. Rules capture versions with patterns
// like (\d+), but some copy any text up to a separator.
func KnownVersion(v string) bool {
	if v == "" || len(v) > 9 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// KnownFamilyVersion reports whether v has the form of a context's
// useragentVersion or osVersion made of a known family f and numeric
// version parts: "Chrome 120.0.0", "Mac OS X 14.1", or the family alone;
// or of the atomic os_name, whose Android versions end in ".x"
// ("Android 13.x", as UserAgentUtils writes them).
func KnownFamilyVersion(f Family, v string) bool {
	if KnownFamily(f, v) {
		return true
	}
	i := strings.LastIndexByte(v, ' ')
	if i < 0 || !KnownFamily(f, v[:i]) {
		return false
	}
	ver := v[i+1:]
	if f == OSFamily {
		ver = strings.TrimSuffix(ver, ".x")
	}
	return dottedNumbers(ver)
}

// dottedNumbers reports whether v is KnownVersion parts joined by dots.
func dottedNumbers(v string) bool {
	for {
		p, rest, more := strings.Cut(v, ".")
		if !KnownVersion(p) {
			return false
		}
		if !more {
			return true
		}
		v = rest
	}
}

// KnownVersionDotted reports whether v is numeric version parts joined by
// dots ("120.0.6099").
func KnownVersionDotted(v string) bool { return dottedNumbers(v) }
