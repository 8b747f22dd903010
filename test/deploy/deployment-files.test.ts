/**
 * The Dockerfile, compose.yaml and deploy/invite-mailer.service say the same
 * thing as each other and as the docs: the command npm start runs, the port,
 * the outbox's folder, and only settings docs/configuration.md documents.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { commandOf, dockerfileStages, envOf } from '../helpers/dockerfile.ts';
import { ROOT, startArgs } from '../helpers/start-command.ts';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const finalStage = dockerfileStages().at(-1)!;
const imageEnv = envOf(finalStage);
const instruction = (keyword: string) => finalStage.instructions.find((i) => i.keyword === keyword)?.args;

interface ComposeService {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
}
const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };
const ourServices = Object.entries(compose.services).filter(([, service]) => service.build === '.');

/** The unit's settings of its [Service] section; Environment's words as one record. */
const unit = read('deploy/invite-mailer.service');
const unitSetting = (name: string) => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((match) => match[1]!.trim());
const unitEnv = Object.fromEntries(unitSetting('Environment').flatMap((line) => line.split(/\s+/).map((word) => word.split('=') as [string, string])));

const documentedSettings = new Set([...read('docs/configuration.md').matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((match) => match[1]!));
const deploymentDoc = read('docs/deployment.md');

describe('the deployment files and the docs agree', () => {
  it('one command: npm start’s, in the image, the unit and the docs', () => {
    const command = ['node', ...startArgs()];
    expect(commandOf(finalStage)).toEqual(command);
    const [binary, ...args] = unitSetting('ExecStart')[0]!.split(/\s+/);
    expect(binary).toMatch(/\/node$/);
    expect(args).toEqual(startArgs());
    for (const [, service] of ourServices) expect(service.command).toBeUndefined(); // the image's CMD
    expect(deploymentDoc).toContain(command.join(' '));
  });

  it('one port and one outbox folder', () => {
    const port = imageEnv.PORT!;
    expect(instruction('EXPOSE')).toBe(port);
    expect(unitEnv.PORT).toBe(port);
    const dataDir = imageEnv.DATA_DIR!;
    expect(instruction('VOLUME')).toBe(dataDir);
    expect(unitEnv.DATA_DIR).toBe(dataDir);
    expect(`/var/lib/${unitSetting('StateDirectory')[0]}`).toBe(dataDir); // systemd makes it, the service user's own
    for (const [name, service] of ourServices) {
      expect(
        service.ports?.map((mapping) => mapping.split(':').at(-1)),
        name,
      ).toEqual([port]);
    }
    expect(compose.services['invite-mailer']!.volumes?.map((volume) => volume.split(':')[1])).toEqual([dataDir]);
    expect(deploymentDoc).toContain(dataDir);
    expect(deploymentDoc).toContain(port);
  });

  it('only documented settings, each named in docs/deployment.md', () => {
    const named = new Set([...Object.keys(imageEnv), ...Object.keys(unitEnv), ...ourServices.flatMap(([, service]) => Object.keys(service.environment ?? {}))]);
    for (const name of named) {
      expect(documentedSettings, `${name} in docs/configuration.md`).toContain(name);
      expect(deploymentDoc, `${name} in docs/deployment.md`).toContain(`\`${name}\``);
    }
  });

  it('compose: one instance by default, two on Redis with what the README asks of Redis, Mailpit on 1025 and 8025', () => {
    expect(ourServices.filter(([, service]) => !service.profiles).map(([name]) => name)).toEqual(['invite-mailer']);
    const onRedis = ourServices.filter(([, service]) => service.profiles?.includes('redis'));
    expect(onRedis).toHaveLength(2);
    for (const [, service] of onRedis) expect(service.environment?.QUEUE_URL).toBe('redis://redis:6379');
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
    expect(compose.services.mailpit!.ports).toEqual(['1025:1025', '8025:8025']);
  });

  it('the unit restarts on failure, lets the drain finish, and is hardened; systemd reads it without a complaint', () => {
    expect(unitSetting('Restart')).toEqual(['on-failure']);
    expect(unitSetting('KillMode')).toEqual(['mixed']);
    expect(unitSetting('KillSignal')).toEqual(['SIGTERM']);
    for (const [name, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
    ]) {
      expect(unitSetting(name!), name).toEqual([value]);
    }
    const verified = spawnSync('systemd-analyze', ['verify', join(ROOT, 'deploy/invite-mailer.service')], { encoding: 'utf8' });
    expect(verified.stderr).toBe('');
    expect(verified.status).toBe(0);
  });
});
