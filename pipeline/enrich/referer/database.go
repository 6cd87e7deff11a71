package referer

// entry is one known referrer.
type entry struct {
	medium, source string
	params         []string // query parameters holding the search term, in order of preference
	pathPrefix     string   // only referrers under this path match (e.g. Google's /url redirect is still search)
}

// domains maps a host (without "www.") to its referrer. A host also matches
// by its parent domains, so "news.google.com"-style subdomains need their
// own entry only when they differ from the parent.
var domains = map[string]entry{
	// Search engines.
	"bing.com":              {medium: Search, source: "Bing", params: []string{"q", "Q"}},
	"cn.bing.com":           {medium: Search, source: "Bing", params: []string{"q"}},
	"search.yahoo.com":      {medium: Search, source: "Yahoo!", params: []string{"p", "q"}},
	"search.yahoo.co.jp":    {medium: Search, source: "Yahoo! Japan", params: []string{"p"}},
	"duckduckgo.com":        {medium: Search, source: "DuckDuckGo", params: []string{"q"}},
	"html.duckduckgo.com":   {medium: Search, source: "DuckDuckGo", params: []string{"q"}},
	"baidu.com":             {medium: Search, source: "Baidu", params: []string{"wd", "word", "kw"}},
	"yandex.ru":             {medium: Search, source: "Yandex", params: []string{"text"}},
	"ya.ru":                 {medium: Search, source: "Yandex", params: []string{"text"}},
	"ecosia.org":            {medium: Search, source: "Ecosia", params: []string{"q"}},
	"qwant.com":             {medium: Search, source: "Qwant", params: []string{"q"}},
	"startpage.com":         {medium: Search, source: "Startpage", params: []string{"query", "q"}},
	"search.brave.com":      {medium: Search, source: "Brave Search", params: []string{"q"}},
	"kagi.com":              {medium: Search, source: "Kagi", params: []string{"q"}},
	"search.naver.com":      {medium: Search, source: "Naver", params: []string{"query"}},
	"seznam.cz":             {medium: Search, source: "Seznam", params: []string{"q"}},
	"ask.com":               {medium: Search, source: "Ask", params: []string{"q"}},
	"aol.com":               {medium: Search, source: "AOL", params: []string{"q", "query"}},
	"perplexity.ai":         {medium: Search, source: "Perplexity", params: []string{"q"}},
	"chatgpt.com":           {medium: Search, source: "ChatGPT"},
	"mail.google.com":       {medium: Email, source: "Gmail"},
	"outlook.live.com":      {medium: Email, source: "Outlook.com"},
	"outlook.office.com":    {medium: Email, source: "Outlook.com"},
	"outlook.office365.com": {medium: Email, source: "Outlook.com"},
	"mail.yahoo.com":        {medium: Email, source: "Yahoo! Mail"},
	"mail.proton.me":        {medium: Email, source: "Proton Mail"},
	"mail.yandex.ru":        {medium: Email, source: "Yandex Mail"},
	// Social networks.
	"facebook.com":         {medium: Social, source: "Facebook"},
	"m.facebook.com":       {medium: Social, source: "Facebook"},
	"l.facebook.com":       {medium: Social, source: "Facebook"},
	"lm.facebook.com":      {medium: Social, source: "Facebook"},
	"fb.me":                {medium: Social, source: "Facebook"},
	"instagram.com":        {medium: Social, source: "Instagram"},
	"l.instagram.com":      {medium: Social, source: "Instagram"},
	"twitter.com":          {medium: Social, source: "Twitter"},
	"x.com":                {medium: Social, source: "Twitter"},
	"t.co":                 {medium: Social, source: "Twitter"},
	"linkedin.com":         {medium: Social, source: "LinkedIn"},
	"lnkd.in":              {medium: Social, source: "LinkedIn"},
	"reddit.com":           {medium: Social, source: "Reddit"},
	"old.reddit.com":       {medium: Social, source: "Reddit"},
	"out.reddit.com":       {medium: Social, source: "Reddit"},
	"news.ycombinator.com": {medium: Social, source: "Hacker News"},
	"youtube.com":          {medium: Social, source: "YouTube"},
	"m.youtube.com":        {medium: Social, source: "YouTube"},
	"youtu.be":             {medium: Social, source: "YouTube"},
	"pinterest.com":        {medium: Social, source: "Pinterest"},
	"tiktok.com":           {medium: Social, source: "TikTok"},
	"mastodon.social":      {medium: Social, source: "Mastodon"},
	"bsky.app":             {medium: Social, source: "Bluesky"},
	"threads.net":          {medium: Social, source: "Threads"},
	"vk.com":               {medium: Social, source: "VKontakte"},
	"weibo.com":            {medium: Social, source: "Sina Weibo"},
	"stackoverflow.com":    {medium: Social, source: "Stack Overflow"},
	"dev.to":               {medium: Social, source: "DEV Community"},
	"medium.com":           {medium: Social, source: "Medium"},
	"discord.com":          {medium: Social, source: "Discord"},
	"slack.com":            {medium: Social, source: "Slack"},
	"app.slack.com":        {medium: Social, source: "Slack"},
	"web.whatsapp.com":     {medium: Social, source: "WhatsApp"},
	"web.telegram.org":     {medium: Social, source: "Telegram"},
	"xing.com":             {medium: Social, source: "XING"},
	"quora.com":            {medium: Social, source: "Quora"},
}

// brands match any host whose label before a country or generic suffix is
// the brand: google.com, google.co.uk, www.google.de, yandex.com.tr, ...
var brands = map[string]entry{
	"google": {medium: Search, source: "Google", params: []string{"q", "query"}},
	"yandex": {medium: Search, source: "Yandex", params: []string{"text"}},
	"yahoo":  {medium: Search, source: "Yahoo!", params: []string{"p", "q"}},
	"bing":   {medium: Search, source: "Bing", params: []string{"q"}},
	"ecosia": {medium: Search, source: "Ecosia", params: []string{"q"}},
}
