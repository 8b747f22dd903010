import { spawnSync } from 'node:child_process';

/** One sample of a scrape: `invite_mailer_deliveries{status="sent"} 3` is { name: 'invite_mailer_deliveries', labels: { status: 'sent' }, value: 3 }. */
export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: readonly Sample[];
}

/** Prometheus' own Python client (Debian's python3-prometheus-client, scripts/system-packages.sh) parses what /metrics gave. */
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = [{"name": f.name, "type": f.type, "help": f.documentation,
             "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
            for f in text_string_to_metric_families(sys.stdin.read())]
print(json.dumps(families))
`;

/**
 * A scrape of /metrics as Prometheus' client library reads it; throws with the parser's error if it does not.
 * (Families are named without `_total` for counters, as the library names them.)
 *
 * @example const families = parsePrometheusText(body); families.get('invite_mailer_deliveries')!.samples
 */
export function parsePrometheusText(text: string): Map<string, Family> {
  const parsed = spawnSync('/usr/bin/python3', ['-c', PARSE], { input: text, encoding: 'utf8' });
  if (parsed.status !== 0) throw new Error(`Prometheus' parser refused the scrape: ${parsed.stderr}`);
  return new Map((JSON.parse(parsed.stdout) as Family[]).map((family) => [family.name, family]));
}
