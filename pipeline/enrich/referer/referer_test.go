package referer

import (
	"net/url"
	"testing"
)

func TestParse(t *testing.T) {
	p := New([]string{" .GitLab.net "})
	for _, c := range []struct {
		refr, page string
		want       Referer
		ok         bool
	}{
		{"https://www.google.com.br/search?q=gitlab+ci", "gitlab.com", Referer{Search, "Google", "gitlab ci"}, true},
		{"https://www.google.co.uk/url?sa=t", "gitlab.com", Referer{Search, "Google", ""}, true},
		{"https://yandex.com.tr/search/?text=git", "gitlab.com", Referer{Search, "Yandex", "git"}, true},
		{"https://www.bing.com/search?q=x", "gitlab.com", Referer{Search, "Bing", "x"}, true},
		{"https://mail.google.com/", "gitlab.com", Referer{Email, "Gmail", ""}, true},
		{"https://old.reddit.com/r/devops", "gitlab.com", Referer{Social, "Reddit", ""}, true},
		{"https://news.ycombinator.com/item?id=1", "gitlab.com", Referer{Social, "Hacker News", ""}, true},
		{"https://docs.gitlab.com/ee/", "docs.gitlab.com", Referer{Medium: Internal}, true},
		{"https://ops.gitlab.net/", "gitlab.com", Referer{Medium: Internal}, true},
		{"https://google.evil.example.org/", "gitlab.com", Referer{Medium: Unknown}, true},
		{"https://example.org/", "gitlab.com", Referer{Medium: Unknown}, true},
		{"android-app://com.slack", "gitlab.com", Referer{}, false},
	} {
		u, _ := url.Parse(c.refr)
		got, ok := p.Parse(u, c.page)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %+v %v, want %+v %v", c.refr, got, ok, c.want, c.ok)
		}
	}
}
