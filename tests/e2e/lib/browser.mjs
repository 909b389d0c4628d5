// posthog-js (the browser SDK, pinned in package.json) running under Node in
// a jsdom page. posthog-js reads window, document, navigator, fetch and
// CompressionStream when it is first imported, so `loadPosthogJs` sets those
// globals once per test process and only then imports it.
//
// What is real: posthog-js's own batching, encoding (gzip through
// CompressionStream, base64 form bodies), URLs and retry logic, and Node's
// fetch (undici) as the transport. What is not: jsdom has no
// navigator.sendBeacon, so the one used here is a stand-in that sends the
// beacon's Blob with Node's fetch the way the Beacon specification requires of a
// browser (POST, Content-Type from the Blob's type, response not read).

import { createRequire } from 'node:module';

import { JSDOM } from 'jsdom';

const require = createRequire(import.meta.url);
let loaded;

// Sends the beacon like a browser: POST, Content-Type from the Blob, response
// ignored. `sent` collects the promises so a test can await them.
function installSendBeacon(navigator, sent) {
  navigator.sendBeacon = (url, data) => {
    const headers = {};
    if (data && typeof data === 'object' && data.type) headers['content-type'] = data.type;
    if (typeof data === 'string') headers['content-type'] = 'text/plain;charset=UTF-8';
    sent.push(fetch(url, { method: 'POST', body: data, headers, keepalive: true })
      .then((response) => response.arrayBuffer()).catch(() => undefined));
    return true;
  };
}

// Returns {dom, PostHog, beacons}; `dom` is the page, `beacons` the promises
// of beacons sent so far.
export async function loadPosthogJs() {
  if (loaded) return loaded;
  // No subresources are loaded (jsdom's default), so the page address is
  // never contacted.
  const dom = new JSDOM('<!doctype html><html><head><title>Checkout</title></head>' +
                        '<body><button id="buy">Buy</button></body></html>',
                        { url: 'http://127.0.0.1/shop/checkout' });
  const beacons = [];
  installSendBeacon(dom.window.navigator, beacons);
  globalThis.window = dom.window;
  globalThis.self = dom.window;
  globalThis.document = dom.window.document;
  globalThis.location = dom.window.location;
  Object.defineProperty(globalThis, 'navigator', { value: dom.window.navigator, configurable: true });

  const module = await import(require.resolve('posthog-js'));
  loaded = { dom, PostHog: module.PostHog, beacons };
  return loaded;
}

// Settings for a test instance: events go to `apiHost` only, no remote
// configuration or feature-flag calls, no automatic events, a fixed anonymous
// distinct_id (memory persistence warns without one), and the request queue
// flushed every 200 ms.
export function browserConfig(apiHost, extra = {}) {
  return {
    api_host: apiHost,
    bootstrap: { distinctID: 'anonymous-visitor' },
    advanced_disable_flags: true,
    persistence: 'memory',
    autocapture: false,
    capture_pageview: false,
    capture_pageleave: false,
    disable_session_recording: true,
    disable_surveys: true,
    capture_exceptions: false,
    request_queue_config: { flush_interval_ms: 200 },
    ...extra,
  };
}
