// esbuild entry for testkit.BrowserTracker: exposes the real
// @snowplow/browser-tracker to the test page as window.snowplowBrowserTracker.
import * as sp from '@snowplow/browser-tracker';

window.snowplowBrowserTracker = sp;
