/**
 * /metrics as Prometheus reads it: parsed by Prometheus' own client library,
 * after a notification went out through the running service.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { example } from '../helpers/examples.ts';
import { type Family, parsePrometheusText } from '../helpers/prometheus.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { ROOT } from '../helpers/start-command.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
let sink: SmtpSink;
let receiver: WebhookReceiver;
let service: TestService;

beforeEach(async () => {
  sink = await new SmtpSink().start();
  receiver = await new WebhookReceiver(SECRET).start();
  receiver.mode = 'down'; // the webhook events wait
  service = await startTestService({ SMTP_URL: sink.url, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_INITIAL_DELAY_MS: '60000' });
});
afterEach(async () => {
  await service.dispose();
  await receiver.stop();
  await sink.stop();
});

async function scrape() {
  const response = await service.app.inject('/metrics');
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(response.body);
}

/** A sample's value, by the sample's name (a family's name, or with `_count`, `_total` …) and labels. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    const sample = family.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    if (sample) return sample.value;
  }
  return undefined;
}
const type = (families: Map<string, Family>, name: string) => families.get(name)?.type;

describe('/metrics', () => {
  it("parses as Prometheus' text format, with Node's metrics and the service's, each documented; the Grafana dashboard plots only these", async () => {
    const payload = example('trueconf-weekly');
    const posted = await service.app.inject({ method: 'POST', url: '/v1/notifications', payload });
    expect(posted.statusCode).toBe(202);
    await waitFor(() => sink.received.length === 3, 10_000, 'three sent');
    await waitFor(async () => value(await scrape(), 'invite_mailer_events_waiting', { consumer: 'webhook' }) === 3, 10_000, 'three webhook events waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const families = await scrape();

    // Node's own: process, event loop, garbage collection
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(value(families, name), name).toBeTypeOf('number');
    }
    expect(type(families, 'nodejs_gc_duration_seconds')).toBe('histogram'); // (its samples come with a first collection)
    expect(type(families, 'invite_mailer_accept_duration_seconds')).toBe('histogram');
    expect(value(families, 'invite_mailer_accept_duration_seconds_count')).toBe(1);
    expect(type(families, 'invite_mailer_delivery_final_seconds')).toBe('histogram');
    expect(value(families, 'invite_mailer_delivery_final_seconds_count', { status: 'sent' })).toBe(3);
    expect(value(families, 'invite_mailer_delivery_final_seconds_bucket', { status: 'sent', le: '+Inf' })).toBe(3);
    expect(value(families, 'invite_mailer_relay_replies_total', { class: '2xx' })).toBe(3);
    expect(value(families, 'invite_mailer_relay_replies_total', { class: '5xx' })).toBe(0);
    expect(value(families, 'invite_mailer_deliveries', { status: 'sent' })).toBe(3);
    expect(value(families, 'invite_mailer_deliveries_due')).toBe(0);
    expect(value(families, 'invite_mailer_oldest_due_delivery_age_seconds')).toBe(0);
    expect(value(families, 'invite_mailer_events_waiting', { consumer: 'webhook' })).toBe(3);
    expect(value(families, 'invite_mailer_oldest_waiting_event_age_seconds', { consumer: 'webhook' })).toBeGreaterThan(0);
    expect(value(families, 'invite_mailer_relay_up')).toBe(1);
    expect(value(families, 'invite_mailer_events_total', { event: 'accepted' })).toBe(3);
    for (const [name, family] of families) if (name.startsWith('invite_mailer_')) expect(family.help, name).not.toBe('');

    // The Grafana dashboard plots only what the scrape has.
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana.json'), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const plotted = new Set(
      dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => target.expr.match(/\b(?:invite_mailer|process|nodejs)_\w+/g) ?? [])),
    );
    const scraped = new Set(
      [...families.values()].flatMap((family) => [
        ...family.samples.map((sample) => sample.name),
        ...(family.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((suffix) => `${family.name}${suffix}`) : []),
      ]),
    );
    for (const name of plotted) expect(scraped, name).toContain(name);
    expect(plotted.size).toBeGreaterThanOrEqual(12);
  });
});
