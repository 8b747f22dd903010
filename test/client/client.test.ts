/**
 * The typed client as the calendar backend uses it: imported by the package's
 * name, against the running service with a token; and compiled by tsc as a
 * backend's own project would (its own tsconfig, the package found in
 * node_modules, its types from dist/).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createClient, type NotificationRequest } from 'invite-mailer/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_NAMES, example } from '../helpers/examples.ts';
import { startTestService, type TestService, waitFor } from '../helpers/service.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { ROOT } from '../helpers/start-command.ts';

const TOKEN = 'a-token-of-sixteen-characters';
let sink: SmtpSink;
let service: TestService;
let baseUrl: string;

beforeAll(async () => {
  sink = await new SmtpSink().start();
  service = await startTestService({ SMTP_URL: sink.url, API_TOKEN: TOKEN });
  baseUrl = await service.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await service.dispose();
  await sink.stop();
});

/** A request as a backend developer writes it: only what the contract requires (allDay, role and status left to their defaults). */
const cancellation: NotificationRequest = {
  type: 'cancellation',
  event: {
    uid: 'client-test-1@calendar.example',
    sequence: 1,
    title: 'Planning',
    start: '2027-03-01T10:00:00',
    end: '2027-03-01T11:00:00',
    timeZone: 'Europe/Moscow',
  },
  organizer: { name: 'Олег Петров', email: 'o.petrov@mydomain.ru' },
  attendees: [{ name: 'Anna Schmidt', email: 'anna.schmidt@partner.example' }],
};

describe("the backend's typed client (invite-mailer/client)", () => {
  it('posts a notification with the token and reads its status, typed by each answer', async () => {
    const client = createClient({ baseUrl, token: TOKEN });
    const posted = await client.POST('/v1/notifications', { body: cancellation, params: { header: { 'Idempotency-Key': 'client-test-1' } } });
    expect(posted.response.status).toBe(202);
    const id = posted.data!.id;
    const status = await waitFor(async () => {
      const { data } = await client.GET('/v1/notifications/{id}', { params: { path: { id } } });
      return data?.recipients.every((r) => r.status === 'sent') ? data : null;
    });
    expect(status.recipients.map((r) => r.email)).toEqual(['anna.schmidt@partner.example']);
    expect(status.totals.sent).toBe(1);
    // The answers are what the document (and so the types) say, every field it calls required included.
    const { components } = (await service.app.inject('/openapi.json')).json() as { components: { schemas: Record<string, object> } };
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    for (const [name, answer] of [
      ['Accepted', posted.data],
      ['NotificationStatus', status],
    ] as const) {
      const valid = ajv.compile(components.schemas[name]!);
      expect(valid(answer), `${name}: ${ajv.errorsText(valid.errors)}`).toBe(true);
    }
  });

  it('posts every contract example (202), and gets a typed 422 and 401', async () => {
    const client = createClient({ baseUrl, token: TOKEN });
    for (const name of EXAMPLE_NAMES) {
      const { response } = await client.POST('/v1/notifications', { body: example(name) as NotificationRequest });
      expect(response.status, name).toBe(202);
    }
    const invalid = await client.POST('/v1/notifications', { body: { ...cancellation, event: { ...cancellation.event, start: 'tomorrow' } } });
    expect(invalid.response.status).toBe(422);
    expect(invalid.error!.error.code).toBe('INVALID_REQUEST');
    expect(invalid.error!.error.issues.map((issue) => issue.path)).toContain('event.start');
    const stranger = createClient({ baseUrl });
    const refused = await stranger.GET('/v1/notifications/{id}', { params: { path: { id: 'x' } } });
    expect(refused.response.status).toBe(401);
    expect(refused.error!.error.code).toBe('UNAUTHORIZED');
  });

  it("compiles in a backend's own project, from the package's built types", () => {
    const project = mkdtempSync(join(tmpdir(), 'client-consumer-'));
    try {
      mkdirSync(join(project, 'node_modules'));
      symlinkSync(ROOT, join(project, 'node_modules/invite-mailer'), 'dir');
      symlinkSync(join(ROOT, 'node_modules/openapi-fetch'), join(project, 'node_modules/openapi-fetch'), 'dir');
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: [] },
        }),
      );
      writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(
        join(project, 'backend.ts'),
        `import { createClient, type NotificationRequest } from 'invite-mailer/client';
const client = createClient({ baseUrl: 'http://127.0.0.1:8080', token: 'a-token-of-sixteen-characters' });
const request: NotificationRequest = ${JSON.stringify(cancellation)};
export async function notify(): Promise<string> {
  const { data, error } = await client.POST('/v1/notifications', { body: request });
  if (error) throw new Error(error.error.message);
  const { data: status } = await client.GET('/v1/notifications/{id}', { params: { path: { id: data.id } } });
  return status?.recipients[0]?.status ?? 'unknown';
}
// @ts-expect-error: a type the contract does not have does not compile
export const wrong: NotificationRequest = { ...request, type: 'meeting' };
`,
      );
      const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { encoding: 'utf8' });
      expect(tsc.stdout + tsc.stderr).toBe('');
      expect(tsc.status).toBe(0);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
