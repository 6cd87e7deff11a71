package useragent

import (
	"fmt"
	"strings"

	lru "github.com/hashicorp/golang-lru"
	"github.com/ua-parser/uap-go/uaparser"
)

// Atomic holds the enriched event's browser, OS and device fields
// (br_name … dvce_ismobile). Snowplow fills them with its user_agent_utils
// enrichment (bitwalker's UserAgentUtils, now deprecated); plowline derives
// them from ua-parser's result in that enrichment's vocabulary, so models
// written against Snowplow data (GitLab's select these columns) read the
// same kind of values: UserAgentUtilsEnrichmentSpec's two cases (Chrome 33
// on Mac OS X, Internet Explorer 11 on Windows 7) come out as there.
type Atomic struct {
	BrName, BrFamily, BrVersion, BrType, BrRenderEngine string
	OSName, OSFamily, OSManufacturer                    string
	DvceType                                            string
	DvceIsMobile                                        bool
}

// AtomicParser computes Atomic per agent, caching the result. It is safe
// for concurrent use.
type AtomicParser struct {
	p     *Parser
	cache *lru.Cache
}

// NewAtomic builds an AtomicParser over p's regexes with its own cache.
func NewAtomic(p *Parser, cacheSize int) (*AtomicParser, error) {
	if cacheSize <= 0 {
		return nil, fmt.Errorf("user-agent atomic cache size %d: must be positive", cacheSize)
	}
	c, err := lru.New(cacheSize)
	if err != nil {
		return nil, err
	}
	return &AtomicParser{p: p, cache: c}, nil
}

// Fields returns the agent's atomic fields.
func (a *AtomicParser) Fields(agent string) *Atomic {
	if v, ok := a.cache.Get(agent); ok {
		return v.(*Atomic)
	}
	at := a.compute(agent)
	a.cache.Add(strings.Clone(agent), at)
	return at
}

// browserFamilies maps ua-parser's family names to UserAgentUtils' group names.
var browserFamilies = map[string]string{
	"IE": "Internet Explorer", "IE Mobile": "Internet Explorer", "Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome",
	"Chrome Mobile WebView": "Chrome", "Chromium": "Chrome", "HeadlessChrome": "Chrome", "Mobile Safari": "Safari",
	"Mobile Safari UI/WKWebView": "Safari", "Firefox Mobile": "Firefox", "Firefox iOS": "Firefox", "Edge": "Microsoft Edge",
	"Edge Mobile": "Microsoft Edge", "Opera Mobile": "Opera", "Opera Mini": "Opera", "Samsung Internet": "Samsung Internet",
}

// osManufacturers are UserAgentUtils' manufacturer names per OS family.
var osManufacturers = map[string]string{
	"Windows": "Microsoft Corporation", "Windows Phone": "Microsoft Corporation", "Mac OS X": "Apple Inc.", "iOS": "Apple Inc.",
	"Android": "Google Inc.", "Chrome OS": "Google Inc.", "BlackBerry OS": "BlackBerry", "Symbian OS": "Symbian Ltd.",
}

// osFamilies maps ua-parser's OS families onto UserAgentUtils' groups.
var osFamilies = map[string]string{
	"Ubuntu": "Linux", "Debian": "Linux", "Fedora": "Linux", "Red Hat": "Linux", "Linux Mint": "Linux", "Arch Linux": "Linux",
	"openSUSE": "Linux", "Gentoo": "Linux", "CentOS": "Linux", "Mac OS": "Mac OS X", "macOS": "Mac OS X",
}

func (a *AtomicParser) compute(agent string) *Atomic {
	if len(agent) > maxAgentBytes {
		agent = agent[:maxAgentBytes]
	}
	return fromParsed(agent, a.p.uap.Parse(agent))
}

// fromParsed maps ua-parser's result c for agent onto the atomic fields.
// It is kept apart from parsing so a test can drive the mapping with
// every family the rules can report and collect every value it writes
// (the pseudonymizer's vocabularies must cover them).
func fromParsed(agent string, c *uaparser.Client) *Atomic {
	ua, os, dev := c.UserAgent, c.Os, c.Device
	at := &Atomic{}

	fam := ua.Family
	if f, ok := browserFamilies[fam]; ok {
		fam = f
	}
	at.BrFamily = fam
	at.BrName = fam
	if ua.Major != "" {
		at.BrName += " " + ua.Major
	}
	at.BrVersion = fullVersion(agent, ua.Major, ua.Minor, ua.Patch)

	osFam := os.Family
	if f, ok := osFamilies[osFam]; ok {
		osFam = f
	}
	at.OSFamily = osFam
	at.OSName = osFam
	switch osFam {
	case "Windows", "iOS":
		if os.Major != "" {
			at.OSName += " " + os.Major
		}
	case "Android":
		if os.Major != "" {
			at.OSName += " " + os.Major + ".x"
		}
	}
	at.OSManufacturer = "Other"
	if m, ok := osManufacturers[osFam]; ok {
		at.OSManufacturer = m
	}

	lower := strings.ToLower(agent)
	bot := dev.Family == "Spider"
	switch {
	case bot:
		at.DvceType = "Unknown"
	case dev.Family == "iPad" || strings.Contains(lower, "tablet") || (osFam == "Android" && !strings.Contains(lower, "mobile")):
		at.DvceType = "Tablet"
	case osFam == "iOS" || osFam == "Android" || osFam == "Windows Phone" || osFam == "BlackBerry OS" || strings.Contains(lower, "mobile"):
		at.DvceType = "Mobile"
	case strings.Contains(lower, "playstation") || strings.Contains(lower, "xbox") || strings.Contains(lower, "nintendo"):
		at.DvceType = "Game console"
	case osFam == "Windows" || osFam == "Mac OS X" || osFam == "Linux" || osFam == "Chrome OS":
		at.DvceType = "Computer"
	default:
		at.DvceType = "Unknown"
	}
	at.DvceIsMobile = at.DvceType == "Mobile" || at.DvceType == "Tablet"

	switch {
	case bot:
		at.BrType = "Robot"
	case fam == "Other":
		at.BrType = "Unknown"
	case at.DvceIsMobile:
		at.BrType = "Browser (mobile)"
	default:
		at.BrType = "Browser"
	}
	at.BrRenderEngine = renderEngine(fam, ua.Major, lower)
	return at
}

// renderEngine names the browser's engine as UserAgentUtils does.
func renderEngine(family, major, lowerAgent string) string {
	switch family {
	case "Internet Explorer":
		return "TRIDENT"
	case "Firefox", "SeaMonkey", "Thunderbird":
		return "GECKO"
	case "Microsoft Edge":
		if len(major) <= 2 && major < "79" {
			return "EDGE_HTML"
		}
		return "WEBKIT"
	case "Opera":
		if len(major) <= 2 && major < "15" && !strings.Contains(lowerAgent, "applewebkit") {
			return "PRESTO"
		}
		return "WEBKIT"
	}
	if strings.Contains(lowerAgent, "applewebkit") {
		return "WEBKIT"
	}
	if strings.Contains(lowerAgent, "gecko/") {
		return "GECKO"
	}
	return "OTHER"
}

// fullVersion is the browser's version as the agent writes it
// ("33.0.1750.152"): ua-parser keeps three components, UserAgentUtils the
// whole dotted version. The parsed prefix is looked up in the agent and
// extended over the digits and dots that follow; if it is not there the
// parsed components are joined.
func fullVersion(agent, major, minor, patch string) string {
	if major == "" {
		return ""
	}
	v := major
	if minor != "" {
		v += "." + minor
		if patch != "" {
			v += "." + patch
		}
	}
	for from := 0; from < len(agent); {
		i := strings.Index(agent[from:], v)
		if i < 0 {
			break
		}
		i += from
		if i > 0 && (agent[i-1] >= '0' && agent[i-1] <= '9' || agent[i-1] == '.') {
			from = i + 1
			continue
		}
		j := i + len(v)
		for j < len(agent) && (agent[j] >= '0' && agent[j] <= '9' || agent[j] == '.' && j+1 < len(agent) && agent[j+1] >= '0' && agent[j+1] <= '9') {
			j++
		}
		return agent[i:j]
	}
	return v
}
