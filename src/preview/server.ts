/**
 * The localization team's preview: every example in every language, as it
 * will be sent, updated in the open page the moment a file under templates/
 * or locales/ is saved. A broken template or locale file shows its error in
 * the page; missing strings show as ⟦key⟧, a placeholder its template does
 * not pass as ⟦key: {{name}} is not passed⟧, both also listed above the email.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { composeMessage } from '../message/compose.ts';
import { senderHeaders } from '../message/sender.ts';
import { InvalidRequestError } from '../model/errors.ts';
import { parseNotificationRequest } from '../model/parse.ts';
import { authorOf } from '../model/people.ts';
import type { NotificationRequest } from '../model/schema.ts';
import { LocaleFileError } from '../render/catalog.ts';
import { createRenderer, type RenderedEmail, type Renderer } from '../render/renderer.ts';
import { TemplateError } from '../render/template-error.ts';
import { createSmtpTransport, redactedSmtpUrl } from '../transport/smtp.ts';
import { previewPage } from './page.ts';

export interface PreviewOptions {
  readonly port: number;
  /** Where it listens; default 127.0.0.1. Anything but loopback needs `allowRemote`. */
  readonly host?: string;
  /** Listen on a host that is not loopback: anyone who can reach it can make it send mail through SMTP_URL. */
  readonly allowRemote?: boolean;
  readonly templatesDir: string;
  readonly localesDir: string;
  readonly examplesDir: string;
  /** Where "Send to Mailpit" sends. */
  readonly smtpUrl: string;
}

export interface Preview {
  readonly url: string;
  /** Stops watching and serving. */
  close(): Promise<void>;
}

interface BuildProblem {
  readonly file: string;
  readonly line: number | null;
  readonly message: string;
}

type State =
  | { readonly version: number; readonly renderer: Renderer; readonly problem: null }
  | { readonly version: number; readonly renderer: null; readonly problem: BuildProblem };

const SERVICE_MAILBOX = { name: 'Calendar preview', address: 'preview@invite-mailer.localhost' };

/**
 * @example const preview = await startPreview({ port: 4000, templatesDir: 'templates', localesDir: 'locales', examplesDir: 'examples', smtpUrl: 'smtp://localhost:1025' });
 */
export async function startPreview(options: PreviewOptions): Promise<Preview> {
  let state: State = await build(0);
  const listeners = new Set<ServerResponse>();
  const transport = createSmtpTransport({ url: options.smtpUrl, poolSize: 1, timeoutMs: 10_000 });

  async function build(version: number): Promise<State> {
    try {
      const renderer = await createRenderer({ templatesDir: options.templatesDir, localesDir: options.localesDir, missingLabels: 'mark' });
      return { version, renderer, problem: null };
    } catch (error) {
      return { version, renderer: null, problem: describeProblem(error) };
    }
  }

  // Rebuild once per burst of saves (editors write a file in several steps).
  let timer: NodeJS.Timeout | undefined;
  let building = Promise.resolve();
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      building = building.then(async () => {
        state = await build(state.version + 1);
        for (const listener of listeners) listener.write(`event: changed\ndata: ${state.version}\n\n`);
      });
    }, 150);
  };
  const watchers: FSWatcher[] = [options.templatesDir, options.localesDir].map((dir) => watch(dir, { recursive: true }, changed));

  const listening = { port: options.port };
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, 'application/json', JSON.stringify({ problem: describeProblem(error) }));
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const refusal = crossSiteRefusal(request, listening.port, options.allowRemote ?? false);
    if (refusal) return json(response, 403, { problem: { file: '', line: null, message: refusal } });
    const url = new URL(request.url ?? '/', 'http://preview');
    if (request.method === 'GET' && url.pathname === '/') return send(response, 200, 'text/html; charset=utf-8', previewPage());
    if (request.method === 'GET' && url.pathname === '/favicon.ico') return send(response, 204, 'image/x-icon', '');
    if (request.method === 'GET' && url.pathname === '/events') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      response.write(`event: hello\ndata: ${state.version}\n\n`);
      listeners.add(response);
      request.on('close', () => listeners.delete(response));
      return;
    }
    if (request.method === 'GET' && url.pathname === '/api/examples') {
      return json(response, 200, {
        examples: await examples(),
        locales: state.renderer?.catalog.locales ?? [],
        version: state.version,
        problem: state.problem,
      });
    }
    if (url.pathname === '/api/email' || url.pathname === '/api/html' || url.pathname === '/api/send') {
      const name = url.searchParams.get('example') ?? '';
      const locale = url.searchParams.get('locale') ?? '';
      const recipient = url.searchParams.get('recipient') ?? '';
      if (!state.renderer) return json(response, 200, { problem: state.problem, version: state.version });
      const found = await renderExample(state.renderer, name, locale, recipient);
      if ('problem' in found) return json(response, 200, { problem: found.problem, version: state.version });
      const { request: notification, email } = found;
      if (url.pathname === '/api/html') return send(response, 200, 'text/html; charset=utf-8', email.html);
      if (url.pathname === '/api/send' && request.method === 'POST') {
        const message = await composeMessage(notification, email, {
          senderPolicy: 'organizer',
          serviceMailbox: SERVICE_MAILBOX,
          bounceAddress: SERVICE_MAILBOX.address,
          date: new Date(),
        });
        const outcome = await transport.send(message);
        return json(response, 200, { outcome, smtpUrl: redactedSmtpUrl(options.smtpUrl) });
      }
      const from = senderHeaders('organizer', authorOf(notification), SERVICE_MAILBOX, email.viaName).from;
      return json(response, 200, {
        version: state.version,
        subject: email.subject,
        from: `${from.name} <${from.address}>`,
        to: email.to.name ? `${email.to.name} <${email.to.email}>` : email.to.email,
        locale: email.locale,
        timeZone: email.timeZone,
        direction: state.renderer.catalog.direction(email.locale),
        text: email.text,
        calendar: email.calendar.content,
        method: email.calendar.method,
        missingKeys: email.missingKeys,
        unpassedPlaceholders: email.unpassedPlaceholders,
      });
    }
    return send(response, 404, 'text/plain; charset=utf-8', 'not found');
  }

  async function examples() {
    const files = (await readdir(options.examplesDir)).filter((f) => f.endsWith('.json')).sort();
    const list = [];
    for (const file of files) {
      try {
        const payload = JSON.parse(await readFile(join(options.examplesDir, file), 'utf8')) as {
          type: string;
          recipients?: { email: string }[];
          attendees: { email: string }[];
        };
        list.push({ name: file.replace(/\.json$/, ''), type: payload.type, recipients: (payload.recipients ?? payload.attendees).map((r) => r.email) });
      } catch {
        // a broken example is listed by name only; opening it shows why
        list.push({ name: file.replace(/\.json$/, ''), type: 'unknown', recipients: [] });
      }
    }
    return list;
  }

  async function renderExample(
    renderer: Renderer,
    name: string,
    locale: string,
    recipient: string,
  ): Promise<{ request: NotificationRequest; email: RenderedEmail } | { problem: BuildProblem }> {
    if (!/^[\w.-]+$/.test(name)) return { problem: { file: options.examplesDir, line: null, message: `no example ${name}` } };
    const file = join(options.examplesDir, `${name}.json`);
    let request: NotificationRequest;
    try {
      const payload = JSON.parse(await readFile(file, 'utf8')) as { recipients?: { email: string; locale?: string }[] };
      for (const r of payload.recipients ?? []) if (locale) r.locale = locale;
      request = parseNotificationRequest(payload);
    } catch (error) {
      return { problem: { ...describeProblem(error), file } };
    }
    const emails = renderer.render(request, { stamp: DateTime.utc(), ...(recipient ? { only: [recipient] } : {}) });
    const email = emails[0];
    if (!email) return { problem: { file, line: null, message: `${recipient} is not a recipient of ${name}` } };
    // A recipient without recipients[] gets the default language: the switch still applies.
    if (locale && email.locale !== locale && !request.recipients) {
      const withLocale = { ...request, recipients: [{ email: email.to.email, locale }] };
      return { request: withLocale, email: renderer.render(withLocale, { stamp: DateTime.utc() })[0]! };
    }
    return { request, email };
  }

  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.allowRemote)
    throw new Error(`--host ${host} is not loopback: anyone who reaches it could send mail through SMTP_URL; add --allow-remote if you mean it`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  listening.port = address.port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    async close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      for (const listener of listeners) listener.end();
      transport.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Why a request is refused, or null. A page open in the translator's browser
 * may post to the preview (it would mail the examples through SMTP_URL), and
 * a DNS name rebound to 127.0.0.1 may read it: every request must name a
 * loopback host and this port (unless --allow-remote), and a request that
 * says where it comes from (`Origin`, which browsers send with every POST)
 * must come from the preview's own page.
 */
function crossSiteRefusal(request: IncomingMessage, port: number, allowRemote: boolean): string | null {
  const host = request.headers.host ?? '';
  const hostName = host.replace(/:\d+$/, '');
  if (!allowRemote && (!isLoopback(hostName) || host !== `${hostName}:${port}`))
    return `the preview answers only to a loopback host on port ${port}, not "${host}"`;
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) return `requests from ${origin} are refused: only the preview's own page may use it`;
  if (request.method !== 'GET' && request.method !== 'HEAD' && request.headers['sec-fetch-site'] === 'cross-site') return 'cross-site requests are refused';
  return null;
}

function describeProblem(error: unknown): BuildProblem {
  if (error instanceof TemplateError) return { file: error.file, line: error.line ?? null, message: error.detail };
  if (error instanceof LocaleFileError) {
    const line = /line (\d+)/.exec(error.detail)?.[1];
    return { file: error.file, line: line ? Number(line) : null, message: error.detail };
  }
  if (error instanceof InvalidRequestError) return { file: '', line: null, message: error.issues.map((i) => `${i.path}: ${i.message}`).join('; ') };
  return { file: '', line: null, message: (error as Error).message ?? String(error) };
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(body));
}
