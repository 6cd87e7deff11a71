// esbuild entry for testkit.BrowserTracker: exposes the real
// @snowplow/browser-tracker to the test page as window.snowplowBrowserTracker,
// and the builders of its tracker core (page pings, link clicks, ecommerce)
// as window.snowplowTrackerCore.
import * as sp from '@snowplow/browser-tracker';
import * as core from '@snowplow/tracker-core';

window.snowplowBrowserTracker = sp;
window.snowplowTrackerCore = core;
