// Decodes PostHog capture requests as recorded by RecordingProxy, so a test
// records exactly which events a client put on the wire (uuid, timestamp,
// sent_at) independently of how ingest parses them.

import { gunzipSync } from 'node:zlib';

function isGzip(buffer) {
  return buffer.length >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
}

// Returns {form, payload}: `form` names the wire form ("gzip", "base64-form",
// "json" and so on) and `payload` is the decoded JSON.
export function decodeCaptureBody(exchange) {
  const compression = exchange.query.get('compression');
  let body = exchange.body;
  let form;
  if (isGzip(body)) {
    body = gunzipSync(body);
    form = 'gzip';
  } else {
    form = 'plain';
  }

  let text = body.toString('utf8');
  if (text.startsWith('data=')) {
    const data = new URLSearchParams(text).get('data');
    if (compression === 'base64') {
      text = Buffer.from(data, 'base64').toString('utf8');
      form = 'base64-form';
    } else {
      text = data;
      form = 'form';
    }
  } else if (form === 'plain') {
    form = 'json';
  }
  return { form, payload: JSON.parse(text) };
}

// Returns the events of a decoded payload, whatever its shape: {batch: [...]},
// a plain array, or one event object.
export function eventsOf(payload) {
  if (Array.isArray(payload)) return payload;
  if (Array.isArray(payload.batch)) return payload.batch;
  return [payload];
}

// Returns every event sent through the proxy to a capture route, each with
// the request's sent_at and the proxy's receive time, in sending order.
// Resent batches appear once per sending.
export function capturedEvents(exchanges) {
  const result = [];
  for (const exchange of exchanges) {
    if (exchange.method !== 'POST' || !/^\/(batch|e|i\/v0\/e|capture|track)\/?$/.test(exchange.path)) {
      continue;
    }
    const { form, payload } = decodeCaptureBody(exchange);
    for (const event of eventsOf(payload)) {
      result.push({ event, form, exchange, sentAt: payload.sent_at });
    }
  }
  return result;
}

// Returns the created_at values (Unix seconds) that ingest may rightly store
// for an event: the event's timestamp, or that timestamp moved by the client's
// clock skew (receive time minus sent_at) as PostHog does. Both clocks are this
// machine's, so the two differ by the request's transit time at most.
export function acceptableCreatedAt(captured) {
  const timestampMs = Date.parse(captured.event.timestamp);
  const values = new Set([Math.floor(timestampMs / 1000)]);
  if (captured.sentAt) {
    const skewMs = captured.exchange.receivedAtMs - Date.parse(captured.sentAt);
    values.add(Math.floor((timestampMs + skewMs) / 1000));
    // Ingest reads its clock a few milliseconds after the proxy does.
    values.add(Math.floor((timestampMs + skewMs + 50) / 1000));
  }
  return [...values];
}
