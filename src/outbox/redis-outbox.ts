/**
 * The outbox for several instances: BullMQ on Redis (or Valkey). A notification's
 * recipients go out as BullMQ jobs of up to RECIPIENTS_PER_JOB each (a retry,
 * or a wait for an older message, is a job of its own); workers take jobs by
 * hand (`getNextJob`) so that the service's worker stays the same for both
 * backends. BullMQ brings the rest: jobs whose instance died are found by its
 * stalled-job check and taken by another instance; its rate limiter holds one
 * send rate across instances (with a rate set, a job is one recipient, since
 * the limiter counts jobs). Each recipient's status lives in a Redis hash
 * every instance reads, and only its changes there decide what is sent: a job
 * taken again after a crash sends only what is not final.
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { LRUCache } from 'lru-cache';
import {
  arbitrate,
  DELAY_REPORT_INTERVAL_MS,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  FINAL_STATUSES,
  type OrderedDelivery,
  type Outcome,
  REPORTABLE_STATUSES,
  statusAfter,
  UNDELIVERED_STATUSES,
  WAITING_STATUSES,
} from '../delivery/policy.ts';
import type { CalendarMethod } from '../model/itip-method.ts';
import { WEBHOOK_EVENT_STATUSES, webhookPayload } from '../webhook/event.ts';
import { newWebhookId } from '../webhook/webhook-id.ts';
import {
  type AcceptOutcome,
  type ClaimedDelivery,
  type DeliveryRecord,
  type LastReply,
  type NewNotification,
  type NoticeBatch,
  type NotificationStatus,
  type Outbox,
  StaleDeliveryError,
  type StoredReport,
  statusOfNew,
  type WebhookEvent,
} from './outbox.ts';
import { storedReport } from './report.ts';
import { writeBatch } from './write-batch.ts';

export interface RedisOutboxOptions {
  /** `redis://[user:password@]host:port[/db]` */
  readonly url: string;
  /** Key prefix, so that several services can share a Redis. Default `invite-mailer`. */
  readonly prefix?: string;
  /** Messages per second across all instances (the relay's limit); unset: no limit. */
  readonly sendRatePerSecond?: number;
  /** How long a taken job is this instance's before the stalled check hands it to another. Default 15 s, renewed while it is held. */
  readonly lockMs?: number;
  /** How long to keep trying to reach Redis at start before giving up. Default 30 s. */
  readonly connectWithinMs?: number;
  /** Store a webhook event with every change to a final status and every delay report (WEBHOOK_URL). */
  readonly webhooks?: boolean;
  /** Store each undelivered recipient for a notice to the organizer (NOTIFY_ORGANIZER), due this long after the first. */
  readonly notices?: { readonly windowMs: number };
}

interface StoredDelivery {
  email: string;
  status: DeliveryStatus;
  attempts: number;
  unconfirmed?: number;
  lastReply: LastReply | null;
  messageId: string | null;
  queuedAt: number;
  updatedAt: number;
  sentAt: number | null;
  nextAttemptAt: number | null;
  orderKey: string;
  orderMember: string;
  sequence: number;
  method: CalendarMethod;
  occurrence: string | null;
  report?: StoredReport | null;
  /**
   * Handed to a job of its own (a retry, or a wait) out of a job of several: from then on only
   * that job sends it, so that two instances never hold jobs that both would.
   */
  ownJob?: boolean;
}

interface Meta {
  type: NotificationStatus['type'];
  uid: string;
  sequence: number;
  acceptedAt: number;
  deadlineAt: number;
  count: number;
}

interface JobData {
  notificationId: string;
  /** The (first) recipient's position in the notification. */
  position: string;
  /** The last recipient's position in a job of several; absent in a job of one (a retry, a wait, or a rate-limited queue). */
  last?: string;
}

/** A job this instance holds: its lock is renewed until every recipient claimed from it is settled or handed back. */
interface Hold {
  readonly job: Job<JobData>;
  readonly token: string;
  /** Positions claimed from it and not yet settled or handed back. */
  readonly open: Set<string>;
  /** A recipient was handed back unsent: the job goes back to the queue once the others are settled. */
  released: boolean;
}

/** A claimed delivery: the job it came with, and the attempt `begin` starts. */
interface Claim {
  readonly hold: Hold;
  readonly position: string;
  readonly attempt: number;
}

/** What the rules make of one recipient of a taken job (see verdictOf). */
type Verdict =
  | { readonly kind: 'send'; readonly delivery: ClaimedDelivery }
  | { readonly kind: 'done' }
  /** To look at again at `at`, in a job of its own; `handed`: the record already says so (StoredDelivery.ownJob). */
  | { readonly kind: 'later'; readonly at: number; readonly handed: boolean };

/** A delivery's id: its notification and position (also the id of its job when the job is its alone). */
function deliveryIdOf(notificationId: string, position: string): string {
  return `${notificationId}.${position}`;
}

const PENDING = 'pending:';

/** Values per status change in a TRANSITIONS call. */
const TRANSITION_FIELDS = 15;

/**
 * Status changes, each atomically: a record changes only from an allowed status (and, when given,
 * at the expected attempt), and the per-status counters move with it in the same script. The
 * changes of one event-loop turn come in one call (see writeBatch): one round trip, one fsync.
 * ARGV: key prefix, counters hash, then TRANSITION_FIELDS values per change: deliveries hash,
 * position, allowed statuses (comma-separated), patch (JSON), attempts increment, unconfirmed
 * increment, expected attempts ('' for any), the event (its payload, '' for none), recipient key,
 * now, '1' for a webhook event, when a notice to the organizer is due ('' for none), notification id,
 * for a delay report the time (ISO) after which an earlier delay report makes it change nothing
 * (DELAY_REPORT_INTERVAL_MS; '' otherwise), and the event's webhook id (webhook/webhook-id.ts).
 * Returns {changed (1 or 0), from} per change, flattened.
 */
const TRANSITIONS = `
local prefix, counts = ARGV[1], ARGV[2]
local function apply(a)
  local json = redis.call('HGET', a[1], a[2])
  if not json then return 0, '' end
  local d = cjson.decode(json)
  local from = d.status
  if not string.find(',' .. a[3] .. ',', ',' .. from .. ',', 1, true) then return 0, from end
  if a[7] ~= '' and tonumber(d.attempts) ~= tonumber(a[7]) then return 0, from end
  if a[14] ~= '' and type(d.report) == 'table' and d.report.action == 'delayed' and type(d.report.receivedAt) == 'string' and d.report.receivedAt > a[14] then return 0, from end
  for k, v in pairs(cjson.decode(a[4])) do d[k] = v end
  d.attempts = (tonumber(d.attempts) or 0) + tonumber(a[5])
  d.unconfirmed = (tonumber(d.unconfirmed) or 0) + tonumber(a[6])
  redis.call('HSET', a[1], a[2], cjson.encode(d))
  if d.status ~= from then
    redis.call('HINCRBY', counts, from, -1)
    redis.call('HINCRBY', counts, d.status, 1)
  end
  -- What others hear of it, in the same script as the change.
  if a[8] ~= '' then
    local event = cjson.decode(a[8])
    event.data.recipient = d.email
    event.data.messageId = d.messageId
    event.data.lastReply = d.lastReply
    if d.report then event.data.report = d.report end
    -- The id goes out with the webhook; the sequence orders an organizer's notice's failures.
    local seq = redis.call('INCR', prefix .. ':wh-seq')
    local entry = cjson.encode({id = a[15], seq = seq, payload = cjson.encode(event)})
    if a[11] == '1' then
      redis.call('RPUSH', prefix .. ':wh:' .. a[9], entry)
      redis.call('ZADD', prefix .. ':wh-pending', 'NX', tonumber(a[10]), a[9])
    end
    if a[12] ~= '' then
      redis.call('RPUSH', prefix .. ':ntc:' .. a[13], entry)
      redis.call('ZADD', prefix .. ':ntc-pending', 'NX', tonumber(a[12]), a[13])
    end
  end
  return 1, from
end
local out = {}
for base = 3, #ARGV, ${TRANSITION_FIELDS} do
  local changed, from = apply({unpack(ARGV, base, base + ${TRANSITION_FIELDS} - 1)})
  out[#out + 1] = changed
  out[#out + 1] = from
end
return out
`;

/**
 * Leases a recipient's oldest webhook event when it is due. KEYS: pending zset, the recipient's
 * list, attempts hash. ARGV: recipient key, now, lease end. Returns {event, attempt} or nil.
 */
const CLAIM_WEBHOOK = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return nil end
local head = redis.call('LINDEX', KEYS[2], 0)
if not head then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return nil
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
return {head, redis.call('HINCRBY', KEYS[3], cjson.decode(head).id, 1)}
`;

/** Drops a delivered event (if still the recipient's oldest) and makes the next one due. KEYS as above; ARGV: recipient key, event id, now. */
const ACK_WEBHOOK = `
local head = redis.call('LINDEX', KEYS[2], 0)
if head and cjson.decode(head).id == ARGV[2] then
  redis.call('LPOP', KEYS[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
end
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1]) end
return 1
`;

/**
 * Leases a notification's stored failures when its notice is due. KEYS: pending zset, the
 * notification's list, attempts hash. ARGV: notification id, now, lease end.
 * Returns {attempt, entry1, entry2, …} or nil.
 */
const CLAIM_NOTICE = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return nil end
local entries = redis.call('LRANGE', KEYS[2], 0, -1)
if #entries == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return nil
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
local out = {redis.call('HINCRBY', KEYS[3], ARGV[1], 1)}
for _, entry in ipairs(entries) do out[#out + 1] = entry end
return out
`;

/**
 * Drops the failures a sent notice held (those up to the given sequence number) and makes any
 * that came after due now; a repeat finds nothing to drop and changes nothing. KEYS as above; ARGV: notification id, sequence, now.
 */
const ACK_NOTICE = `
local dropped = 0
while true do
  local head = redis.call('LINDEX', KEYS[2], 0)
  if not head then break end
  local e = cjson.decode(head)
  -- Entries stored before webhook ids were minted (evt_<sequence>) have no seq of their own.
  if tonumber(e.seq or string.sub(e.id, 5)) > tonumber(ARGV[2]) then break end
  redis.call('LPOP', KEYS[2])
  dropped = dropped + 1
end
if dropped == 0 then return 0 end
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
end
return 1
`;

/**
 * Deliveries, each with every delivery sharing its order key, in one round trip: what the rules
 * weigh. ARGV: key prefix, then a notification id and a position for each delivery. Returns one
 * array for each: {record, member1, record1, member2, record2, …}, or {} for a delivery not stored.
 */
const CONTEXTS = `
local out = {}
for i = 2, #ARGV, 2 do
  local context = {}
  local json = redis.call('HGET', ARGV[1] .. ':n:' .. ARGV[i] .. ':d', ARGV[i + 1])
  if json then
    context[1] = json
    for _, member in ipairs(redis.call('ZRANGE', ARGV[1] .. ':order:' .. cjson.decode(json).orderKey, 0, -1)) do
      local id, position = string.match(member, '^[^|]+|([^|]+)|(.+)$')
      context[#context + 1] = member
      context[#context + 1] = redis.call('HGET', ARGV[1] .. ':n:' .. id .. ':d', position) or ''
    end
  end
  out[#out + 1] = context
end
return out
`;

/** Deletes an idempotency key only while it still holds this request's pending marker. */
const FORGET_PENDING = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** How old a stored notification without its jobs must be before any instance creates them. */
const EXPAND_AFTER_MS = 5000;

/** Jobs made by one BullMQ addBulk of an accepted notification (see queueJobs). */
const JOBS_PER_ADD = 200;

/**
 * Recipients of one notification a job carries. BullMQ spends several scripts, an event-stream
 * entry and a few hundred microseconds of this process's CPU on each job (add, take, complete):
 * one job a recipient left the Redis backend at 60–64% of the SQLite outbox's rate ("Performance").
 */
const RECIPIENTS_PER_JOB = 25;

/** Jobs taken in one pipelined round of a claim, at most. */
const CLAIM_ROUND = 25;

/**
 * @example const outbox = await openRedisOutbox({ url: 'redis://localhost:6379', sendRatePerSecond: 200 });
 * @throws Error when Redis does not answer within `connectWithinMs`.
 */
export async function openRedisOutbox(options: RedisOutboxOptions): Promise<Outbox> {
  const prefix = options.prefix ?? 'invite-mailer';
  const lockMs = options.lockMs ?? 15_000;
  // Requests fail at once while Redis is away (the API answers 503 instead of hanging).
  const fastFail: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true };
  const commands = new Redis(options.url, fastFail);
  const queueConnection = new Redis(options.url, fastFail);
  commands.on('error', () => undefined); // reported by the failing command; not a crash
  queueConnection.on('error', () => undefined);
  await connectWithBackoff([commands, queueConnection], options.connectWithinMs ?? 30_000);
  commands.defineCommand('transitions', { numberOfKeys: 0, lua: TRANSITIONS });
  commands.defineCommand('deliveryContexts', { numberOfKeys: 0, lua: CONTEXTS });
  commands.defineCommand('forgetPending', { numberOfKeys: 1, lua: FORGET_PENDING });
  commands.defineCommand('claimWebhook', { numberOfKeys: 3, lua: CLAIM_WEBHOOK });
  commands.defineCommand('ackWebhook', { numberOfKeys: 3, lua: ACK_WEBHOOK });
  commands.defineCommand('claimNotice', { numberOfKeys: 3, lua: CLAIM_NOTICE });
  commands.defineCommand('ackNotice', { numberOfKeys: 3, lua: ACK_NOTICE });
  const run = commands as unknown as {
    /** See TRANSITIONS. */
    transitions(prefix: string, counts: string, ...changes: (string | number)[]): Promise<(number | string)[]>;
    claimNotice(
      pending: string,
      list: string,
      attempts: string,
      notificationId: string,
      now: number,
      leaseUntil: number,
    ): Promise<[number, ...string[]] | null>;
    ackNotice(pending: string, list: string, attempts: string, notificationId: string, sequence: number, now: number): Promise<number>;
    claimWebhook(pending: string, list: string, attempts: string, recipientKey: string, now: number, leaseUntil: number): Promise<[string, number] | null>;
    ackWebhook(pending: string, list: string, attempts: string, recipientKey: string, eventId: string, now: number): Promise<number>;
    deliveryContexts(prefix: string, ...deliveries: string[]): Promise<string[][]>;
    forgetPending(key: string, marker: string): Promise<number>;
  };

  const workerConnection = new Redis(options.url, { maxRetriesPerRequest: null, connectTimeout: 2000 });
  workerConnection.on('error', () => undefined);
  const queue = new Queue('deliveries', { connection: queueConnection, prefix });
  const worker = new Worker('deliveries', null, {
    connection: workerConnection,
    prefix,
    autorun: false,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 3)),
    maxStalledCount: 1_000_000, // a stalled job is a crashed instance, not a poison message
    ...(options.sendRatePerSecond ? { limiter: { max: options.sendRatePerSecond, duration: 1000 } } : {}),
  });
  worker.on('error', () => undefined);
  queue.on('error', () => undefined); // reported by the failing call; unhandled, BullMQ prints it to stderr
  await worker.startStalledCheckTimer();

  const key = {
    idempotency: (k: string) => `${prefix}:idem:${k}`,
    meta: (id: string) => `${prefix}:n:${id}`,
    deliveries: (id: string) => `${prefix}:n:${id}:d`,
    order: (k: string) => `${prefix}:order:${k}`,
    counts: `${prefix}:counts`,
    sequence: `${prefix}:seq`,
    probe: `${prefix}:probe`,
    /** Notifications stored whose jobs may not exist yet (score: when accepted). */
    expand: `${prefix}:expand`,
    /** Recipients with webhook events waiting (score: when due, or when the lease ends). */
    webhookPending: `${prefix}:wh-pending`,
    webhookList: (recipientKey: string) => `${prefix}:wh:${recipientKey}`,
    webhookAttempts: `${prefix}:wh-attempts`,
    /** Notifications with failures waiting for a notice to the organizer (score: when due, or when the lease ends). */
    noticePending: `${prefix}:ntc-pending`,
    noticeList: (notificationId: string) => `${prefix}:ntc:${notificationId}`,
    noticeAttempts: `${prefix}:ntc-attempts`,
  };
  /** With a shared rate limit a job is one recipient: BullMQ's limiter counts jobs. */
  const recipientsPerJob = options.sendRatePerSecond ? 1 : RECIPIENTS_PER_JOB;
  /** Jobs this instance holds, with their lock tokens; locks renewed while held. */
  const holds = new Set<Hold>();
  /** Each claimed delivery (by id), and the job it came with. */
  const held = new Map<string, Claim>();
  /** Deliveries claimed from a job beyond what the claim asked for, for the next claim. */
  const spare: ClaimedDelivery[] = [];
  const renew = setInterval(
    () => {
      for (const { job, token } of holds) job.extendLock(token, lockMs).catch(() => undefined);
    },
    Math.floor(lockMs / 3),
  );
  renew.unref();
  const bodies = new LRUCache<string, Promise<{ body: string; meta: Meta } | null>>({ max: 100 });
  let lastExpansion = 0;
  /** Jobs being made behind an accepted notification's answer (see queueJobs); close() waits for them. */
  const makingJobs = new Set<Promise<void>>();
  /** Settled jobs being moved out of the active list (see finishJob); close() waits for them. */
  const finishing = new Set<Promise<Error | null>>();
  /** Jobs the finishing moves took, for the next claim (see finishJob). */
  const fetched: Hold[] = [];
  let closing = false;

  async function readStatus(id: string): Promise<NotificationStatus | null> {
    const [metaJson, deliveries] = await Promise.all([commands.hget(key.meta(id), 'meta'), commands.hgetall(key.deliveries(id))]);
    if (!metaJson) return null;
    const meta = JSON.parse(metaJson) as Meta;
    const records: DeliveryRecord[] = [];
    for (let position = 0; position < meta.count; position++) {
      const stored = JSON.parse(deliveries[String(position)]!) as StoredDelivery;
      records.push(toRecord(stored));
    }
    return {
      id,
      type: meta.type,
      event: { uid: meta.uid, sequence: meta.sequence },
      acceptedAt: new Date(meta.acceptedAt).toISOString(),
      deadlineAt: new Date(meta.deadlineAt).toISOString(),
      recipients: records,
    };
  }

  /** The status changes of one event-loop turn, in one TRANSITIONS call; each caller gets its {changed, from}. */
  const transitionBatch = writeBatch(async (changes: readonly (string | number)[][]) => {
    const flat = await run.transitions(prefix, key.counts, ...changes.flat());
    return changes.map((_, index) => [flat[2 * index], flat[2 * index + 1]] as const);
  });

  async function transition(
    data: JobData,
    from: readonly DeliveryStatus[],
    patch: Partial<StoredDelivery>,
    counters: { attempts?: number; unconfirmed?: number; expectedAttempts?: number } = {},
    event: { status: DeliveryStatus | 'delayed'; at: number } | null = null,
    delayedSince = '',
  ) {
    const webhook = Boolean(event && options.webhooks && WEBHOOK_EVENT_STATUSES.has(event.status));
    const notice =
      event && options.notices && event.status !== 'delayed' && UNDELIVERED_STATUSES.has(event.status) ? String(event.at + options.notices.windowMs) : '';
    const payload =
      event && (webhook || notice)
        ? webhookPayload(
            {
              notificationId: data.notificationId,
              position: Number(data.position),
              recipient: null,
              status: event.status,
              messageId: null,
              lastReply: null,
              report: null,
            },
            event.at,
          )
        : '';
    const [changed, was] = await transitionBatch([
      key.deliveries(data.notificationId),
      data.position,
      from.join(','),
      JSON.stringify(patch),
      counters.attempts ?? 0,
      counters.unconfirmed ?? 0,
      counters.expectedAttempts === undefined ? '' : String(counters.expectedAttempts),
      payload,
      `${data.notificationId}/${data.position}`,
      event?.at ?? Date.now(),
      webhook ? '1' : '',
      notice,
      data.notificationId,
      delayedSince,
      payload ? newWebhookId() : '',
    ]);
    return { changed: changed === 1, was: was as DeliveryStatus | '' };
  }

  /** A notification's meta and body, read once and kept; those asking while it is read share the read. */
  function notification(id: string): Promise<{ body: string; meta: Meta } | null> {
    let reading = bodies.get(id);
    if (!reading) {
      const read = commands
        .hmget(key.meta(id), 'meta', 'body')
        .then(([metaJson, body]) => (metaJson && body ? { meta: JSON.parse(metaJson) as Meta, body } : null));
      reading = read;
      bodies.set(id, read);
      const forget = () => {
        if (bodies.get(id) === read) bodies.delete(id); // not kept: asked again next time
      };
      read.then((found) => found ?? forget(), forget);
    }
    return reading;
  }

  /** A notification's jobs, recipientsPerJob recipients each (ids made from the positions: adding one again changes nothing). */
  function jobsOf(id: string, count: number) {
    return Array.from({ length: Math.ceil(count / recipientsPerJob) }, (_, index) => {
      const first = index * recipientsPerJob;
      const last = Math.min(count, first + recipientsPerJob) - 1;
      if (last === first) return oneRecipientJob(id, String(first));
      return {
        name: 'deliver',
        data: { notificationId: id, position: String(first), last: String(last) } satisfies JobData,
        opts: { jobId: `${id}.${first}-${last}`, removeOnComplete: true, removeOnFail: true },
      };
    });
  }

  /** A job for one recipient; its id is the delivery's id. */
  function oneRecipientJob(id: string, position: string, delayMs = 0) {
    return {
      name: 'deliver',
      data: { notificationId: id, position } satisfies JobData,
      opts: { jobId: deliveryIdOf(id, position), removeOnComplete: true, removeOnFail: true, ...(delayMs > 0 ? { delay: delayMs } : {}) },
    };
  }

  /**
   * Makes a stored notification's jobs, JOBS_PER_ADD at a time. Resolves once the first ones are
   * made, so that the worker woken by the answer finds work, while the rest are made behind it
   * (1600 jobs took 190 ms to add in one go here, when a job was one recipient). If making them fails, the notification stays
   * in the fan-out record and any instance's expansion makes the jobs.
   */
  function queueJobs(id: string, count: number): Promise<void> {
    const jobs = jobsOf(id, count);
    const first = queue.addBulk(jobs.slice(0, JOBS_PER_ADD));
    const all = first.then(async () => {
      for (let from = JOBS_PER_ADD; from < jobs.length; from += JOBS_PER_ADD) await queue.addBulk(jobs.slice(from, from + JOBS_PER_ADD));
      await commands.zrem(key.expand, id);
    });
    const making: Promise<void> = all.then(
      () => undefined,
      () => undefined, // left in the fan-out record; expandStranded makes the jobs
    );
    makingJobs.add(making);
    void making.finally(() => makingJobs.delete(making));
    return first.then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Creates the jobs of notifications stored but left without them (the accepting instance died,
   * or Redis went away, between storing and queueing). Idempotent: a job id that exists is kept,
   * and a job made again for a finished delivery is completed at its claim.
   */
  async function expandStranded(now: number): Promise<void> {
    if (now - lastExpansion < 1000) return;
    lastExpansion = now;
    const ids = await commands.zrangebyscore(key.expand, '-inf', String(now - EXPAND_AFTER_MS), 'LIMIT', 0, 20);
    for (const id of ids) {
      const parent = await notification(id);
      if (parent) await queue.addBulk(jobsOf(id, parent.meta.count));
      await commands.zrem(key.expand, id);
    }
  }

  /** Holds a job taken under `token`: its lock is renewed from now on. */
  function holdOf(job: Job<JobData>, token: string): Hold {
    const hold: Hold = { job, token, open: new Set(), released: false };
    holds.add(hold);
    return hold;
  }

  /** Stops holding a job: its lock is no longer renewed, and the deliveries claimed from it are no longer this instance's. */
  function letGo(hold: Hold): void {
    holds.delete(hold);
    for (const position of hold.open) {
      const deliveryId = deliveryIdOf(hold.job.data.notificationId, position);
      if (held.get(deliveryId)?.hold === hold) held.delete(deliveryId);
    }
    hold.open.clear();
  }

  /** Hands a held job back to the queue (best effort: if Redis is away, its lock runs out and the stalled check does it). */
  async function giveBack(hold: Hold): Promise<void> {
    letGo(hold); // stop renewing its lock whatever happens next
    await hold.job.moveToWait(hold.token);
  }

  function heldEntry(deliveryId: string): Claim {
    const entry = held.get(deliveryId);
    if (!entry) throw new StaleDeliveryError(`delivery ${deliveryId} is not held by this instance`);
    return entry;
  }

  /** The next due job, held by this instance under a token of its own (and added to `taken`); undefined when none is due. */
  async function takeJob(taken: Hold[]): Promise<Hold | undefined> {
    const token = randomUUID();
    const job = (await worker.getNextJob(token, { block: false })) as Job<JobData> | undefined;
    if (!job) return undefined;
    const hold = holdOf(job, token);
    taken.push(hold);
    return hold;
  }

  /**
   * What the rules make of one recipient of a taken job, given its delivery context (the record
   * and every delivery sharing its order key): a delivery to send (now claimed), nothing to do, or
   * a time to look again.
   */
  async function verdictOf(hold: Hold, position: string, context: string[], now: number): Promise<Verdict> {
    const data: JobData = { notificationId: hold.job.data.notificationId, position };
    const deliveryId = deliveryIdOf(data.notificationId, position);
    // Already claimed from another job of this instance's (a retry's job and its first job, both taken after a crash).
    if (held.has(deliveryId)) return { kind: 'done' };
    const parent = context.length ? await notification(data.notificationId) : null;
    let record = context.length ? (JSON.parse(context[0]!) as StoredDelivery) : null;
    if (!record || !parent || FINAL_STATUSES.has(record.status)) return { kind: 'done' }; // orphan, or done before a crash
    // Its own job sends it; the job it came from, taken again, only makes sure that job exists.
    if (record.ownJob && ofSeveral(hold.job.data)) return { kind: 'later', at: Math.max(now, record.nextAttemptAt ?? now), handed: true };
    if (record.status === 'retrying' && record.nextAttemptAt !== null && record.nextAttemptAt > now) {
      // Back before its time (its job's move to delayed was lost with the connection).
      return { kind: 'later', at: record.nextAttemptAt, handed: false };
    }
    if (record.status === 'sending') {
      // Its instance died with it on the wire: it may or may not have gone out.
      await transition(data, ['sending'], { status: 'queued', updatedAt: now });
      record = { ...record, status: 'queued' };
    }
    const others: OrderedDelivery[] = [];
    for (let i = 1; i < context.length; i += 2) {
      const other = context[i + 1] ? (JSON.parse(context[i + 1]!) as StoredDelivery) : null;
      if (other) others.push(ordered(other.orderMember === record.orderMember ? record : other, context[i]!));
    }
    const decision = arbitrate(ordered(record, record.orderMember), others, now);
    if (decision.action === 'supersede') {
      await transition(data, [...WAITING_STATUSES], { status: 'superseded', updatedAt: now, nextAttemptAt: null }, {}, { status: 'superseded', at: now });
      return { kind: 'done' };
    }
    // An older message to this person about this event goes first.
    if (decision.action === 'wait') return { kind: 'later', at: decision.until, handed: false };
    held.set(deliveryId, { hold, position, attempt: record.attempts + 1 });
    hold.open.add(position);
    return {
      kind: 'send',
      delivery: {
        deliveryId,
        notificationId: data.notificationId,
        position: Number(position),
        recipient: record.email,
        attempt: record.attempts + 1,
        unconfirmed: record.unconfirmed ?? 0,
        body: parent.body,
        acceptedAt: parent.meta.acceptedAt,
        deadlineAt: parent.meta.deadlineAt,
      },
    };
  }

  /**
   * The deliveries to send of a taken job (`contexts`: one for each of its positions). A job of one
   * recipient with nothing to send now is completed or delayed until its time. In a job of several,
   * each recipient that must wait is handed to a job of its own, delayed until its time, before the
   * job can finish: its record says so first (ownJob), then the job is made. A crash in between
   * takes the job again, which makes that job again (adding a job that exists changes nothing);
   * the other order would let both jobs send it.
   */
  async function claimFromJob(hold: Hold, positions: readonly string[], contexts: readonly string[][], now: number): Promise<ClaimedDelivery[]> {
    const verdicts = await Promise.all(positions.map((position, i) => verdictOf(hold, position, contexts[i]!, now)));
    const sending: ClaimedDelivery[] = [];
    const later: ReturnType<typeof oneRecipientJob>[] = [];
    const handing: Promise<unknown>[] = [];
    let laterAt = 0;
    for (const [i, verdict] of verdicts.entries()) {
      if (verdict.kind === 'send') sending.push(verdict.delivery);
      else if (verdict.kind === 'later') {
        const data: JobData = { notificationId: hold.job.data.notificationId, position: positions[i]! };
        later.push(oneRecipientJob(data.notificationId, data.position, verdict.at - now));
        if (!verdict.handed && ofSeveral(hold.job.data)) handing.push(transition(data, [...WAITING_STATUSES], { ownJob: true }));
        laterAt = verdict.at;
      }
    }
    if (!ofSeveral(hold.job.data)) {
      if (sending.length) return sending;
      letGo(hold);
      if (later.length) await hold.job.moveToDelayed(laterAt, hold.token);
      else await hold.job.moveToCompleted('nothing to do', hold.token, false);
      return [];
    }
    await Promise.all(handing); // (one TRANSITIONS call: see writeBatch)
    if (later.length) await queue.addBulk(later);
    if (!sending.length) finishJob(hold);
    return sending;
  }

  /**
   * Moves a job whose claimed deliveries are all done with out of the active list, without holding
   * up the worker; its lock is renewed until the move is done. A job with one handed back goes back
   * to the queue; a job of one recipient settled as retrying is delayed until its retry; any other
   * is completed, and its move takes the next due job in the same script (BullMQ's fetchNext, under
   * the same token and the same rate limit), kept for the next claim: one script a job less. When
   * the move fails (Redis away, the lock gone), the lock runs out, the stalled check hands the job on
   * and its next claim completes it (the records are final) or sends what is not. The promise never
   * rejects: it holds the move's error, or null, for release() to tell.
   */
  function finishJob(hold: Hold, delayUntil?: number): Promise<Error | null> {
    const { job, token } = hold;
    const move = hold.released
      ? job.moveToWait(token)
      : delayUntil !== undefined
        ? job.moveToDelayed(delayUntil, token)
        : job.moveToCompleted('done', token, !closing);
    const moving = move.then(
      (next) => {
        if (Array.isArray(next) && next[0]) keepFetched(Job.fromJSON(worker, next[0], next[1]) as Job<JobData>, token);
        return null;
      },
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    finishing.add(moving);
    void moving.finally(() => {
      finishing.delete(moving);
      holds.delete(hold);
    });
    return moving;
  }

  /**
   * A claimed delivery is done with: settled (with the time of its retry, for a job of one),
   * handed back unsent, or no longer this instance's. Its job finishes once every delivery claimed
   * from it is done with; the promise is that move's.
   */
  function closeClaim(deliveryId: string, entry: Claim, how: { released: true } | { retryAt?: number }): Promise<Error | null> | undefined {
    const { hold } = entry;
    if (held.get(deliveryId) === entry) held.delete(deliveryId);
    hold.open.delete(entry.position);
    if ('released' in how) hold.released = true;
    if (hold.open.size > 0 || !holds.has(hold)) return undefined;
    return finishJob(hold, !ofSeveral(hold.job.data) && 'retryAt' in how ? how.retryAt : undefined);
  }

  /**
   * A claimed delivery whose record was not where this instance left it: changed elsewhere, or
   * changed by this very call applied twice (ioredis sends a command again after a reconnect when
   * its answer was lost). Its job goes back to the queue once the others claimed from it are done
   * with, and whoever takes it looks at the record afresh: a delivery left `sending` is sent again,
   * a final one is left be. (Completing the job instead left such a delivery `sending` for good,
   * with no job to send it, after a Redis restart.) If the job is no longer this instance's, the
   * move fails and changes nothing.
   */
  function abandon(deliveryId: string, entry: Claim): void {
    void closeClaim(deliveryId, entry, { released: true });
  }

  /**
   * Hands claimed deliveries back unsent: each job goes back to the queue once all claimed from it
   * are done with. Rejects when a job could not go back (Redis away, its lock gone): its deliveries
   * are then not due at once, as the contract says, but once the lock runs out and a stalled check
   * hands the job on, and whoever stops a worker is told so rather than nothing.
   */
  async function release(deliveryIds: readonly string[]): Promise<void> {
    const moves: (Promise<Error | null> | undefined)[] = [];
    for (const deliveryId of deliveryIds) {
      const entry = held.get(deliveryId);
      if (entry) moves.push(closeClaim(deliveryId, entry, { released: true }));
    }
    const failed = (await Promise.all(moves)).filter((error) => error instanceof Error);
    if (failed.length)
      throw new Error(
        `${failed.length} job(s) could not be given back to the queue (${failed[0]!.message}): their deliveries are due again once the job's lock runs out (within ${lockMs} ms) and a stalled check hands it on`,
        { cause: failed[0] },
      );
  }

  /** A job taken by a finishing move: held (its lock renewed) until a claim takes it, or close gives it back. */
  function keepFetched(job: Job<JobData>, token: string): void {
    job.token = token;
    fetched.push(holdOf(job, token));
  }

  return {
    async accept(n: NewNotification): Promise<AcceptOutcome> {
      const idempotency = n.idempotencyKey === null ? null : key.idempotency(n.idempotencyKey);
      const pendingMarker = `${PENDING}${n.id}:${n.bodyHash}`;
      if (idempotency) {
        const claimed = await commands.set(idempotency, pendingMarker, 'PX', 60_000, 'NX');
        if (claimed === null) {
          const value = (await commands.get(idempotency)) ?? '';
          if (value.startsWith(PENDING)) return { kind: 'in-progress' };
          const first = JSON.parse(value) as { id: string; bodyHash: string };
          if (first.bodyHash !== n.bodyHash) return { kind: 'key-reused' };
          return { kind: 'replayed', notification: (await readStatus(first.id))! };
        }
      }
      try {
        const base = await commands.incrby(key.sequence, n.recipients.length);
        const meta: Meta = {
          type: n.type,
          uid: n.event.uid,
          sequence: n.event.sequence,
          acceptedAt: n.acceptedAt,
          deadlineAt: n.deadlineAt,
          count: n.recipients.length,
        };
        // One MULTI: Redis applies all of it or none of it (and the append-only file replays it whole),
        // so the notification, its deliveries, the counters, the key and the fan-out record come together.
        const multi = commands.multi().hset(key.meta(n.id), 'meta', JSON.stringify(meta), 'body', n.body);
        const records: Record<string, string> = {};
        n.recipients.forEach((recipient, position) => {
          const member = `${String(base - n.recipients.length + position).padStart(16, '0')}|${n.id}|${position}`;
          records[String(position)] = JSON.stringify({
            email: recipient.email,
            status: 'queued',
            attempts: 0,
            unconfirmed: 0,
            lastReply: null,
            messageId: null,
            queuedAt: n.acceptedAt,
            updatedAt: n.acceptedAt,
            sentAt: null,
            nextAttemptAt: n.acceptedAt,
            orderKey: recipient.orderKey,
            orderMember: member,
            sequence: n.event.sequence,
            method: n.method,
            occurrence: n.event.occurrence,
          } satisfies StoredDelivery);
          multi.zadd(key.order(recipient.orderKey), n.event.sequence, member);
        });
        multi.hset(key.deliveries(n.id), records).hincrby(key.counts, 'queued', n.recipients.length).zadd(key.expand, n.acceptedAt, n.id);
        if (idempotency) multi.set(idempotency, JSON.stringify({ id: n.id, bodyHash: n.bodyHash }), 'PX', 7 * 86_400_000);
        const results = await multi.exec();
        if (!results || results.some(([error]) => error)) throw new Error('Redis refused the notification');
      } catch (error) {
        if (idempotency) await run.forgetPending(idempotency, pendingMarker).catch(() => undefined);
        throw error;
      }
      // Stored: the 202 holds from here, and its status is what was just stored.
      await queueJobs(n.id, n.recipients.length);
      return { kind: 'accepted', notification: statusOfNew(n) };
    },

    status: readStatus,

    async claim(max: number, now: number): Promise<ClaimedDelivery[]> {
      // First what an earlier claim took beyond what it asked for.
      const fromSpare = spare.splice(0, max);
      const claimed = [...fromSpare];
      const taken: Hold[] = [];
      try {
        await expandStranded(now);
        // Jobs are taken a round at a time, each round's commands sent together (ioredis pipelines
        // calls made in one turn): Redis runs them one by one, as atomically as ever, but the round
        // costs one round trip and one fsync of the append-only file instead of one per job.
        while (claimed.length < max) {
          const round = Math.min(CLAIM_ROUND, Math.ceil((max - claimed.length) / recipientsPerJob));
          // First the jobs finishing moves took (see finishJob), then as many more as the round holds.
          const ready = fetched.splice(0, round);
          taken.push(...ready);
          const more = await Promise.all(Array.from({ length: round - ready.length }, () => takeJob(taken)));
          const jobs = [...ready, ...more.filter((hold) => hold !== undefined)];
          const positions = jobs.map((hold) => positionsOf(hold.job.data));
          const asked = jobs.flatMap((hold, i) => positions[i]!.flatMap((position) => [hold.job.data.notificationId, position]));
          const contexts = asked.length ? await run.deliveryContexts(prefix, ...asked) : [];
          let next = 0;
          for (const [i, hold] of jobs.entries()) {
            const sending = await claimFromJob(hold, positions[i]!, contexts.slice(next, next + positions[i]!.length), now);
            next += positions[i]!.length;
            const room = max - claimed.length;
            claimed.push(...sending.slice(0, room));
            spare.push(...sending.slice(room));
          }
          if (jobs.length < round) break; // the queue has no more due now
        }
        return claimed;
      } catch (error) {
        // A claim that fails half-way gives back what it took, so that nothing stays held and renewed.
        await Promise.all(taken.map((hold) => giveBack(hold).catch(() => undefined)));
        const stillHeld = spare.filter((delivery) => held.has(delivery.deliveryId));
        spare.splice(0, spare.length, ...fromSpare, ...stillHeld);
        throw error;
      }
    },

    async begin(deliveryId, at) {
      const entry = heldEntry(deliveryId);
      const data: JobData = { notificationId: entry.hold.job.data.notificationId, position: entry.position };
      const { changed } = await transition(
        data,
        [...WAITING_STATUSES],
        { status: 'sending', updatedAt: at },
        { attempts: 1, expectedAttempts: entry.attempt - 1 },
      );
      if (!changed) {
        abandon(deliveryId, entry); // not ours any more
        throw new StaleDeliveryError(`delivery ${deliveryId} could not start: its status changed elsewhere`);
      }
    },

    async settle(deliveryId, outcome: Outcome) {
      const entry = heldEntry(deliveryId);
      const data: JobData = { notificationId: entry.hold.job.data.notificationId, position: entry.position };
      const status = statusAfter(outcome);
      const patch: Partial<StoredDelivery> = {
        status,
        lastReply: outcome.reply,
        updatedAt: outcome.at,
        nextAttemptAt: outcome.kind === 'retrying' ? outcome.nextAttemptAt : null,
        ...(outcome.messageId ? { messageId: outcome.messageId } : {}),
        ...(outcome.kind === 'sent' ? { sentAt: outcome.at } : {}),
      };
      const unconfirmed = outcome.kind === 'retrying' && outcome.unconfirmed ? 1 : 0;
      const handed = outcome.kind === 'retrying' && ofSeveral(entry.hold.job.data);
      // A retry out of a job of several is handed to a job of its own (see claimFromJob): the record says so in the same change.
      if (handed) patch.ownJob = true;
      const { changed, was } = await transition(data, ['sending'], patch, { unconfirmed, expectedAttempts: entry.attempt }, { status, at: outcome.at });
      // `was === status`: an earlier try of this settle changed the record and its answer was lost with the connection.
      if (!changed && was !== status) {
        abandon(deliveryId, entry);
        throw new StaleDeliveryError(`delivery ${deliveryId} is not sending this attempt`);
      }
      const retryAt = outcome.kind === 'retrying' ? outcome.nextAttemptAt : undefined;
      // Its job, delayed until its time. If adding it fails, this settle is tried again; after a
      // crash, the job it came from is taken again and makes it (see verdictOf).
      if (handed) await queue.addBulk([oneRecipientJob(data.notificationId, data.position, outcome.nextAttemptAt - Date.now())]);
      // The record is the outcome: the worker may go on. The job leaves the active list behind it
      // (one write less on each message's path; moves of several messages share an fsync).
      void closeClaim(deliveryId, entry, { retryAt });
    },

    release,

    async report(delivery, report) {
      const data: JobData = { notificationId: delivery.notificationId, position: String(delivery.position) };
      const stored = storedReport(report);
      // The effect depends on the status the script finds: try the bounce, then the note.
      const effect = report.action === 'failed' ? 'bounced' : 'noted';
      const { changed, was } = await transition(
        data,
        REPORTABLE_STATUSES,
        { ...(effect === 'bounced' ? { status: 'bounced' as const } : {}), report: stored, updatedAt: report.at },
        {},
        { status: effect === 'bounced' ? 'bounced' : 'delayed', at: report.at },
        effect === 'noted' ? new Date(report.at - DELAY_REPORT_INTERVAL_MS).toISOString() : '',
      );
      if (changed) return effect;
      return was === '' ? 'no-such-delivery' : 'ignored';
    },

    async claimWebhooks(max, now, leaseMs) {
      const due = await commands.zrangebyscore(key.webhookPending, '-inf', String(now), 'LIMIT', 0, max);
      const events: WebhookEvent[] = [];
      for (const recipientKey of due) {
        const claimed = await run.claimWebhook(key.webhookPending, key.webhookList(recipientKey), key.webhookAttempts, recipientKey, now, now + leaseMs);
        if (!claimed) continue;
        const stored = JSON.parse(claimed[0]) as { id: string; payload: string };
        events.push({ id: stored.id, recipientKey, payload: stored.payload, attempt: claimed[1] });
      }
      return events;
    },

    async settleWebhook(event, result) {
      if ('delivered' in result)
        await run.ackWebhook(key.webhookPending, key.webhookList(event.recipientKey), key.webhookAttempts, event.recipientKey, event.id, Date.now());
      else await commands.zadd(key.webhookPending, 'XX', result.retryAt, event.recipientKey);
    },

    async claimNotices(max, now, leaseMs) {
      const due = await commands.zrangebyscore(key.noticePending, '-inf', String(now), 'LIMIT', 0, max);
      const batches: NoticeBatch[] = [];
      for (const notificationId of due) {
        const claimed = await run.claimNotice(key.noticePending, key.noticeList(notificationId), key.noticeAttempts, notificationId, now, now + leaseMs);
        if (!claimed) continue;
        const [attempt, ...entries] = claimed;
        const stored = entries.map((entry) => JSON.parse(entry) as { id: string; seq?: number; payload: string });
        const last = stored.at(-1)!;
        const through = String(last.seq ?? last.id.slice(4)); // (an entry stored before ids were minted: evt_<sequence>)
        const found = await notification(notificationId);
        if (!found) {
          // Its notification is gone: there is nothing left to tell.
          await run.ackNotice(key.noticePending, key.noticeList(notificationId), key.noticeAttempts, notificationId, Number(through), now);
          continue;
        }
        batches.push({ notificationId, body: found.body, failures: stored.map((entry) => JSON.parse(entry.payload).data), attempt, through });
      }
      return batches;
    },

    async settleNotice(batch, result) {
      const { notificationId } = batch;
      if ('done' in result)
        await run.ackNotice(key.noticePending, key.noticeList(notificationId), key.noticeAttempts, notificationId, Number(batch.through), Date.now());
      else await commands.zadd(key.noticePending, 'XX', result.retryAt, notificationId);
    },

    async counts() {
      const stored = await commands.hgetall(key.counts);
      return Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, Number(stored[s] ?? 0)])) as Record<DeliveryStatus, number>;
    },

    async checkWritable() {
      await commands.set(key.probe, String(Date.now()));
    },

    async close() {
      closing = true; // finishing moves take no more jobs
      // Deliveries and jobs taken for a claim that will not come go back to the queue now, not when their lock runs out.
      await release(spare.splice(0).map((delivery) => delivery.deliveryId)).catch(() => undefined);
      await Promise.all([...makingJobs, ...finishing]);
      clearInterval(renew);
      await Promise.all(fetched.splice(0).map((hold) => giveBack(hold).catch(() => undefined)));
      await worker.close(true).catch(() => undefined);
      await queue.close().catch(() => undefined);
      for (const connection of [commands, queueConnection, workerConnection]) connection.disconnect();
    },
  };
}

/** Connects, retrying with backoff; gives up (and closes the connections) after `withinMs`. */
async function connectWithBackoff(connections: readonly Redis[], withinMs: number): Promise<void> {
  const started = Date.now();
  for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
    try {
      await Promise.all(
        connections.map(async (c) => {
          if (c.status === 'wait' || c.status === 'end' || c.status === 'close') await c.connect();
          await c.ping();
        }),
      );
      return;
    } catch (error) {
      if (Date.now() - started + delay > withinMs) {
        for (const c of connections) c.disconnect();
        throw new Error(`Redis at QUEUE_URL did not answer within ${Math.round(withinMs / 1000)} s: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Whether a job carries several recipients (a notification's first jobs) rather than one (a retry, a wait, a rate-limited queue). */
function ofSeveral(data: JobData): boolean {
  return data.last !== undefined;
}

/** The positions a job carries, first to last. */
function positionsOf(data: JobData): string[] {
  const first = Number(data.position);
  const count = ofSeveral(data) ? Number(data.last) - first + 1 : 1;
  return Array.from({ length: count }, (_, i) => String(first + i));
}

function ordered(record: StoredDelivery, member: string): OrderedDelivery {
  return {
    id: member,
    status: record.status,
    sequence: record.sequence,
    arrival: Number(member.split('|')[0]),
    method: record.method,
    occurrence: record.occurrence,
    nextAttemptAt: WAITING_STATUSES.has(record.status) ? record.nextAttemptAt : null,
  };
}

function toRecord(stored: StoredDelivery): DeliveryRecord {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    email: stored.email,
    status: stored.status,
    attempts: stored.attempts,
    lastReply: stored.lastReply,
    messageId: stored.messageId,
    queuedAt: iso(stored.queuedAt)!,
    updatedAt: iso(stored.updatedAt)!,
    sentAt: iso(stored.sentAt),
    nextAttemptAt: stored.status === 'queued' || stored.status === 'retrying' ? iso(stored.nextAttemptAt) : null,
    report: stored.report ?? null,
  };
}
