// Runs in headless Chromium for testkit.BrowserTracker: reads /config.json,
// creates one real browser tracker per method (post, get), tracks every
// event with each, waits until every event has been answered by the
// collector, then POSTs {sent, failures} to /done. Errors are reported to
// /done too, so the Go side never waits for a page that died.
(async function () {
  const results = { sent: [], failures: [], error: '' };
  const done = () => fetch('/done', { method: 'POST', body: JSON.stringify(results) });
  try {
    const sp = window.snowplowBrowserTracker;
    if (!sp) throw new Error('tracker bundle did not load');
    const cfg = await (await fetch('/config.json')).json();
    const expected = cfg.events.length * cfg.methods.length;
    let answered = 0;
    let resolveAll;
    const all = new Promise((r) => { resolveAll = r; });
    const check = () => { if (answered >= expected) resolveAll(); };
    const ids = [];
    const trackers = {};
    const core = window.snowplowTrackerCore;
    for (const m of cfg.methods) {
      const id = cfg.namespace + '-' + m;
      ids.push(id);
      const tc = {
        appId: cfg.appId,
        platform: cfg.platform || 'web',
        eventMethod: m,
        bufferSize: m === 'post' ? cfg.bufferSize : 1,
        retryFailedRequests: false,
        // The page is plain http on 127.0.0.1: the tracker's own cookies
        // must not be Secure/SameSite=None or Chromium drops them.
        cookieSameSite: 'Lax',
        cookieSecure: false,
        stateStorageStrategy: 'cookieAndLocalStorage',
        onRequestSuccess: (batch) => { for (const p of batch) results.sent.push(p); answered += batch.length; check(); },
        onRequestFailure: (f, resp) => {
          results.failures.push({ status: f.status || (resp && resp.status) || 0, message: f.message || '', events: f.events.length, method: m });
          answered += f.events.length; check();
        },
      };
      if (cfg.postPath) tc.postPath = cfg.postPath;
      if (cfg.anonymous) tc.anonymousTracking = { withServerAnonymisation: true };
      if (cfg.encodeBase64 !== null && cfg.encodeBase64 !== undefined) tc.encodeBase64 = cfg.encodeBase64;
      trackers[id] = sp.newTracker(id, cfg.collector, tc);
      if (cfg.userId) sp.setUserId(cfg.userId, [id]);
    }
    for (const id of ids) {
      for (const ev of cfg.events) {
        const common = {};
        if (ev.contexts) common.context = ev.contexts;
        if (ev.trueTimestamp) common.timestamp = { type: 'ttm', value: ev.trueTimestamp };
        if (ev.pageUrl) sp.setCustomUrl(ev.pageUrl, [id]);
        if (ev.referrer) sp.setReferrerUrl(ev.referrer, [id]);
        switch (ev.kind) {
          case 'page_view':
            sp.trackPageView(Object.assign({ title: ev.pageTitle || null }, common), [id]);
            break;
          case 'struct': {
            const se = { category: ev.category, action: ev.action };
            if (ev.label) se.label = ev.label;
            if (ev.property) se.property = ev.property;
            if (ev.value !== undefined && ev.value !== null) se.value = ev.value;
            sp.trackStructEvent(Object.assign(se, common), [id]);
            break;
          }
          case 'self_describing':
            sp.trackSelfDescribingEvent(Object.assign({ event: { schema: ev.schema, data: ev.data } }, common), [id]);
            break;
          // As the activity tracking, link-click and ecommerce plugins do:
          // the core builder, tracked on this tracker's core.
          case 'page_ping': {
            const o = ev.offsets || [0, 0, 0, 0];
            trackers[id].core.track(core.buildPagePing({ pageUrl: ev.pageUrl, pageTitle: ev.pageTitle, referrer: ev.referrer,
              minXOffset: o[0], maxXOffset: o[1], minYOffset: o[2], maxYOffset: o[3] }), common.context, common.timestamp);
            break;
          }
          case 'link_click':
            trackers[id].core.track(core.buildLinkClick(ev.link), common.context, common.timestamp);
            break;
          case 'transaction':
            trackers[id].core.track(core.buildEcommerceTransaction(ev.transaction), common.context, common.timestamp);
            break;
          case 'transaction_item':
            trackers[id].core.track(core.buildEcommerceTransactionItem(ev.transaction), common.context, common.timestamp);
            break;
          default:
            throw new Error('unknown event kind ' + JSON.stringify(ev.kind));
        }
      }
    }
    sp.flushBuffer({}, ids);
    await all;
  } catch (e) {
    results.error = String((e && e.stack) || e);
  }
  await done();
})();
