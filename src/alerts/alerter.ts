import { hostname } from 'node:os';
import type { Clock } from '../clock.ts';
import type { Log } from '../log.ts';
import type { Health } from '../health.ts';
import { RvError } from '../errors.ts';
import { checkNotifications, type Channel, type NotificationsConfig } from './config.ts';
import { conditions, type Condition } from './conditions.ts';
import { nextWake, step, type AlertEvent, type DedupeOptions } from './dedupe.ts';
import { emailContent, newDelivery, webhookBody, type Delivery } from './payload.ts';
import { Outbox, type QueuedChannel } from './outbox.ts';
import { sendMail } from './email.ts';
import { postWebhook } from './webhook.ts';
import { MqttPublisher, testMqtt, type MqttState } from './mqtt.ts';

export interface AlerterDeps {
  settings: () => NotificationsConfig;
  language: () => 'nl' | 'en';
  health: Health;
  vault: () => Promise<{ initialized: boolean; unlocked: boolean }>;
  /** deadlines (YYYY-MM-DD) of open requests; null while the register is not loaded */
  deadlines: () => Promise<string[] | null>;
  clock: Clock;
  log: Log;
  outboxPath: string;
  lines: () => string[];
  hasBoard: boolean;
  version: string;
  /** seconds between checks of what health does not signal (vault hours, request deadlines); default 30 */
  pollSeconds?: number;
}

const MAX_BACKOFF_MS = 6 * 3_600_000;
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 10 * 60_000;

export const boxName = (n: NotificationsConfig): string => n.boxName || hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'ringvault';
const nodeIdOf = (name: string): string => name.toLowerCase().replace(/[^a-z0-9_-]/g, '_');

/**
 * Alerts off the box, derived from its health and fault states (plus the vault and the request
 * deadlines): each check turns what is true now into conditions, deduplicates them (dedupe.ts) and
 * hands the events to every enabled channel. E-mail and webhook deliveries wait in a bounded,
 * durable outbox while their channel is down and are retried with back-off; MQTT carries the state
 * itself (retained) and is republished on reconnect. Nothing here can stop recording: every failure
 * is logged and retried.
 */
export class Alerter {
  private readonly outbox: Outbox;
  private readonly startedAt: number;
  private unlockedSinceStart = false;
  private mqtt?: MqttPublisher;
  private mqttKey = '';
  private checking?: Promise<void>;
  private again = false;
  private debounce?: NodeJS.Timeout;
  private poll?: NodeJS.Timeout;
  private wake?: NodeJS.Timeout;
  private readonly retry: Partial<Record<QueuedChannel, NodeJS.Timeout>> = {};
  private readonly sending: Partial<Record<QueuedChannel, boolean>> = {};
  private readonly nextTry: Record<QueuedChannel, number> = { email: 0, webhook: 0 };
  private readonly failing: Record<QueuedChannel, string | null> = { email: null, webhook: null };
  private stopped = false;
  private last: Condition[] = [];
  private openRequests = 0;
  private readonly onHealth = () => this.poke(50);

  constructor(private readonly d: AlerterDeps) {
    this.outbox = new Outbox(d.outboxPath, () => d.settings().queueMax);
    this.startedAt = d.clock.now();
  }

  async start(): Promise<void> {
    await this.outbox.load();
    this.d.health.on('change', this.onHealth);
    this.poll = setInterval(() => this.poke(0), (this.d.pollSeconds ?? 30) * 1000);
    this.poll.unref();
    await this.reconfigure();
    await this.check();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.d.health.off('change', this.onHealth);
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    clearTimeout(this.wake);
    for (const t of Object.values(this.retry)) clearTimeout(t);
    await this.checking?.catch(() => undefined);
    await this.outbox.save();
    await this.mqtt?.stop();
  }

  /** After a settings change: restart MQTT if its settings changed, drop the queue of a channel turned off, send what waits. */
  async reconfigure(): Promise<void> {
    const n = this.d.settings();
    const key = JSON.stringify([n.mqtt, n.boxName]);
    if (key !== this.mqttKey) {
      this.mqttKey = key;
      await this.mqtt?.stop();
      this.mqtt = undefined;
      if (n.mqtt.enabled && checkNotifications(n).every((p) => !p.includes('.mqtt.'))) {
        const name = boxName(n);
        this.mqtt = new MqttPublisher(n.mqtt, { nodeId: nodeIdOf(name), name, version: this.d.version, lines: this.d.lines(), board: this.d.hasBoard }, this.d.log);
        await this.mqtt.start();
        this.publishState();
      }
    }
    for (const ch of ['email', 'webhook'] as const) {
      if (!n[ch].enabled) this.outbox.clear(ch);
      this.nextTry[ch] = 0;
      this.failing[ch] = null;
      void this.flush(ch);
    }
    void this.outbox.save();
  }

  /** Something changed (health, an unlock): check soon, once for a burst. */
  poke(delayMs = 50): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), delayMs);
  }

  /** One check at a time; a request during a check runs one more after it. */
  check(): Promise<void> {
    if (this.checking) { this.again = true; return this.checking; }
    this.checking = this.run().catch((e) => this.d.log.error({ err: e }, 'alert check failed')).finally(() => {
      this.checking = undefined;
      if (this.again && !this.stopped) { this.again = false; void this.check(); }
    });
    return this.checking;
  }

  private options(n: NotificationsConfig): DedupeOptions {
    return { backoffMs: n.backoffSeconds * 1000, maxBackoffMs: MAX_BACKOFF_MS, repeatMs: n.repeatHours * 3_600_000, quietUntil: this.startedAt + n.startupGraceSeconds * 1000 };
  }

  private async run(): Promise<void> {
    const n = this.d.settings();
    const now = this.d.clock.now();
    const vault = await this.d.vault();
    if (vault.unlocked) this.unlockedSinceStart = true;
    const report = this.d.health.report();
    const deadlines = await this.d.deadlines().catch(() => null);
    this.openRequests = deadlines?.length ?? 0;
    this.last = conditions({
      health: report, today: new Date(now).toISOString().slice(0, 10),
      vault: { ...vault, unlockedSinceStart: this.unlockedSinceStart, upMs: now - this.startedAt },
      deadlines,
      vaultLockedHours: n.vaultLockedHours, requestWarnDays: n.requestWarnDays,
    });
    const o = this.options(n);
    const events = step(this.outbox.keys, this.last, now, o);
    this.publishState();
    clearTimeout(this.wake);
    const wakeAt = nextWake(this.outbox.keys, now, o);
    if (Number.isFinite(wakeAt) && !this.stopped) {
      // setTimeout holds at most ~24.8 days; a later wake is re-planned by the next check.
      this.wake = setTimeout(() => this.poke(0), Math.min(Math.max(wakeAt - now, 0) + 5, 2 ** 31 - 1));
      this.wake.unref();
    }
    if (events.length === 0) return;
    this.d.log.info({ alerts: events.map((e) => `${e.state} ${e.key}`) }, 'alerts');
    this.deliver(events, n, now);
  }

  private deliver(events: AlertEvent[], n: NotificationsConfig, now: number): void {
    const d = newDelivery(events, now);
    for (const ch of ['email', 'webhook'] as const) if (n[ch].enabled) this.outbox.push(ch, d);
    void this.outbox.save();
    if (this.mqtt) this.mqtt.event(webhookBody(d, boxName(n), this.d.language(), Math.floor(now / 1000), 0));
    for (const ch of ['email', 'webhook'] as const) void this.flush(ch);
  }

  /** Sends what waits for one channel, oldest first; on failure waits (2 s doubling to 10 min) and tries again. */
  private async flush(ch: QueuedChannel): Promise<void> {
    if (this.sending[ch] || this.stopped) return;
    const now = Date.now();
    if (now < this.nextTry[ch]) return this.schedule(ch, this.nextTry[ch] - now);
    this.sending[ch] = true;
    try {
      for (;;) {
        const n = this.d.settings();
        const p = this.outbox.queues[ch][0];
        if (!p || !n[ch].enabled || this.stopped) return;
        try {
          await this.send(ch, p.delivery, n, this.outbox.dropped[ch]);
        } catch (e) {
          p.attempts++;
          const wait = Math.min(RETRY_FIRST_MS * 2 ** (p.attempts - 1), RETRY_MAX_MS);
          this.nextTry[ch] = Date.now() + wait;
          const reason = e instanceof RvError ? e.message : (e as Error).message;
          // Said once per outage (the reason may change), not at every retry.
          if (this.failing[ch] !== reason) this.d.log.warn({ channel: ch, queued: this.outbox.queues[ch].length, reason }, `alerts by ${ch} cannot be delivered; kept and retried`);
          this.failing[ch] = reason;
          void this.outbox.save();
          this.schedule(ch, wait);
          return;
        }
        if (this.failing[ch]) this.d.log.info({ channel: ch }, `alerts by ${ch} are delivered again`);
        this.failing[ch] = null;
        this.outbox.queues[ch].shift();
        this.outbox.dropped[ch] = 0;
        void this.outbox.save();
      }
    } finally {
      this.sending[ch] = false;
    }
  }

  private schedule(ch: QueuedChannel, ms: number): void {
    clearTimeout(this.retry[ch]);
    this.retry[ch] = setTimeout(() => void this.flush(ch), ms + 5);
    this.retry[ch].unref();
  }

  private async send(ch: Channel, d: Delivery, n: NotificationsConfig, dropped: number): Promise<void> {
    const lang = this.d.language();
    const box = boxName(n);
    if (ch === 'email') {
      const m = emailContent(d, box, lang, dropped);
      await sendMail(n.email, m.subject, m.text);
    } else if (ch === 'webhook') {
      // Signed afresh at every attempt so the timestamp is current; the delivery id stays for the receiver's dedup.
      const ts = Math.floor(Date.now() / 1000);
      await postWebhook(n.webhook, webhookBody(d, box, lang, ts, dropped), ts, d.id);
    } else {
      await testMqtt(n.mqtt, nodeIdOf(box), webhookBody(d, box, lang, Math.floor(Date.now() / 1000), 0));
    }
  }

  /** Sends a test alert through one channel with the given settings now (not queued); throws an RvError that says what to fix. */
  async test(ch: Channel, n: NotificationsConfig): Promise<void> {
    const problems = checkNotifications({ ...n, [ch]: { ...n[ch], enabled: true } }).filter((p) => p.includes(`.${ch}.`));
    if (problems.length) throw new RvError('RV_ERR_NOTIFY_SETTINGS', problems.join(' '), 422);
    const now = this.d.clock.now();
    await this.send(ch, newDelivery([{ key: 'test', kind: 'test', state: 'test', params: {}, at: now }], now), n, 0);
  }

  /** For the page: per channel, enabled, queued deliveries and the last failure. */
  status(): Record<Channel, { enabled: boolean; queued: number; failing: string | null }> {
    const n = this.d.settings();
    return {
      email: { enabled: n.email.enabled, queued: this.outbox.queues.email.length, failing: this.failing.email },
      webhook: { enabled: n.webhook.enabled, queued: this.outbox.queues.webhook.length, failing: this.failing.webhook },
      mqtt: { enabled: n.mqtt.enabled, queued: 0, failing: null },
    };
  }

  /** The problems alerted on right now (keys), for the page and tests. */
  active(): string[] { return this.last.map((c) => c.key); }

  private publishState(): void {
    if (!this.mqtt) return;
    const on = (b: boolean) => (b ? 'ON' : 'OFF');
    const has = (kind: string) => this.last.some((c) => c.kind === kind);
    const r = this.d.health.report();
    const s: MqttState = {
      problem: on(this.last.length > 0),
      ...Object.fromEntries(this.d.lines().map((l) => [`line_${l.replace(/-/g, '_')}_audio_lost`, on(this.last.some((c) => c.kind === 'line.source-lost' && c.line === l))])),
      ...(this.d.hasBoard ? { board_connected: on(!has('board.gone')) } : {}),
      disk_low: on(has('disk.low')), archive_write_failed: on(has('archive.write-failed')), clock_unsynced: on(has('clock.unsynced')),
      vault_locked: on(has('vault.locked')), requests_overdue: on(has('requests.overdue')), requests_due_soon: on(has('requests.due-soon')),
      replication_failing: on(has('replication.failing')),
      disk_hours_left: r.disk?.hoursLeft ?? null, disk_free_gb: r.disk ? Math.round(r.disk.freeBytes / 1e8) / 10 : null,
      requests_open: this.openRequests,
    };
    this.mqtt.setState(s);
  }
}
