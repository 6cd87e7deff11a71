// Drives the real @snowplow/node-tracker against a collector for
// testkit.NodeTracker. Usage: node node_tracker.js CONFIG.json
//
// CONFIG: {endpoint, protocol, port, method, bufferSize, appId, namespace,
// encodeBase64, setters: {...}, events: [TrackerEvent...]}.
// Prints one JSON object on stdout: {"sent": [payload...], "failures": [...]}
// where each payload is an event exactly as the tracker sent it. Exits 1 if
// any request failed.
'use strict';

const fs = require('fs');
const path = require('path');
const mods = path.join(__dirname, 'node_modules');
const sp = require(path.join(mods, '@snowplow/node-tracker'));

async function main() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const sent = [];
  const failures = [];
  const tracker = sp.newTracker(
    { namespace: cfg.namespace, appId: cfg.appId, encodeBase64: cfg.encodeBase64 },
    {
      endpoint: cfg.endpoint,
      protocol: cfg.protocol,
      port: cfg.port,
      eventMethod: cfg.method,
      bufferSize: cfg.bufferSize,
      retryFailedRequests: false,
      customHeaders: cfg.headers || {},
      postPath: cfg.postPath || undefined,
      serverAnonymization: !!cfg.anonymous,
      onRequestSuccess: (batch) => { for (const p of batch) sent.push(p); },
      onRequestFailure: (f, resp) => {
        failures.push({ status: f.status || (resp && resp.status) || 0, message: f.message || '', events: f.events.length, willRetry: f.willRetry });
      },
    },
  );
  const s = cfg.setters || {};
  if (s.platform) tracker.setPlatform(s.platform);
  if (s.userId) tracker.setUserId(s.userId);
  if (s.screenResolution) tracker.setScreenResolution(...s.screenResolution);
  if (s.viewport) tracker.setViewport(...s.viewport);
  if (s.colorDepth) tracker.setColorDepth(s.colorDepth);
  if (s.timezone) tracker.setTimezone(s.timezone);
  if (s.lang) tracker.setLang(s.lang);
  if (s.ipAddress) tracker.setIpAddress(s.ipAddress);
  if (s.useragent) tracker.setUseragent(s.useragent);
  if (s.domainUserId) tracker.setDomainUserId(s.domainUserId);
  if (s.networkUserId) tracker.setNetworkUserId(s.networkUserId);
  if (s.sessionId) tracker.setSessionId(s.sessionId);
  if (s.sessionIndex) tracker.setSessionIndex(s.sessionIndex);

  for (const ev of cfg.events) {
    let b;
    switch (ev.kind) {
      case 'page_view':
        b = sp.buildPageView({ pageUrl: ev.pageUrl, pageTitle: ev.pageTitle, referrer: ev.referrer });
        break;
      case 'struct': {
        const se = { category: ev.category, action: ev.action };
        if (ev.label) se.label = ev.label;
        if (ev.property) se.property = ev.property;
        if (ev.value !== undefined && ev.value !== null) se.value = ev.value;
        b = sp.buildStructEvent(se);
        break;
      }
      case 'self_describing':
        b = sp.buildSelfDescribingEvent({ event: { schema: ev.schema, data: ev.data } });
        break;
      case 'page_ping': {
        const o = ev.offsets || [0, 0, 0, 0];
        b = sp.buildPagePing({ pageUrl: ev.pageUrl, pageTitle: ev.pageTitle, referrer: ev.referrer,
          minXOffset: o[0], maxXOffset: o[1], minYOffset: o[2], maxYOffset: o[3] });
        break;
      }
      case 'link_click':
        b = sp.buildLinkClick(ev.link);
        break;
      case 'transaction':
        b = sp.buildEcommerceTransaction(ev.transaction);
        break;
      case 'transaction_item':
        b = sp.buildEcommerceTransactionItem(ev.transaction);
        break;
      default:
        throw new Error('unknown event kind ' + JSON.stringify(ev.kind));
    }
    const ts = ev.trueTimestamp ? { type: 'ttm', value: ev.trueTimestamp } : undefined;
    tracker.track(b, ev.contexts || [], ts);
  }
  // flush() returns at once while a flush triggered by a full buffer is in
  // progress, so wait until every event has been answered one way or the
  // other (requests are not retried, so each event is answered once).
  const deadline = Date.now() + (cfg.timeoutMs || 30000);
  let failedEvents = 0;
  for (;;) {
    await tracker.flush();
    failedEvents = failures.reduce((n, f) => n + f.events, 0);
    if (sent.length + failedEvents >= cfg.events.length) break;
    if (Date.now() > deadline) {
      failures.push({ status: 0, message: `timed out: ${sent.length} sent, ${failedEvents} failed of ${cfg.events.length}`, events: 0 });
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  process.stdout.write(JSON.stringify({ sent, failures }) + '\n');
  process.exit(failures.length > 0 ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write('node tracker: ' + (e && e.stack || e) + '\n');
  process.exit(2);
});
