import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { RvError } from './errors.ts';
import type { Log } from './log.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config/schema.ts';
import { SettingsStore, applyOverrides, type Role, type StoredUser, ROLES } from './config/settings.ts';
import { Vault } from './vault/vault.ts';
import { Archive } from './archive/archive.ts';
import { Ring, slotsForMinutes } from './ring/ring.ts';
import { Recorder } from './calls/recorder.ts';
import { Catalog } from './calls/catalog.ts';
import { AuditLog } from './audit/audit.ts';
import { SimSource } from './sources/sim.ts';
import { AnalogSource } from './sources/analog.ts';
import type { LineSource } from './sources/source.ts';
import { checkPassword, DUMMY_VERIFIER, hashPassword } from './http/passwords.ts';
import { PassphraseStrength } from './vault/strength.ts';
import { StrangerLimit, STRANGER_LIMITS } from './audit/stranger-limit.ts';
import { firstRunSetup, USERNAME } from './setup.ts';
import { changeOwnPassphrase } from './passphrase.ts';
import type { SettingsPatch } from './config/schema.ts';
import { RetentionScheduler } from './retention/scheduler.ts';
import { validateRetention } from './retention/policy.ts';
import { HoldStore } from './retention/holds.ts';
import { CallDeleter } from './retention/delete-call.ts';
import { SiprecSource } from './sources/siprec.ts';
import { readSipTls } from './sip/tls-files.ts';
import { PcapSource } from './sources/pcap.ts';
import type { ControlBoard } from './board/board.ts';
import { createBoard } from './board/factory.ts';
import { BoardController } from './board/controller.ts';
import { Health } from './health.ts';
import { callsOf, unitKey } from './config/trunk.ts';
import { Codecs } from './codecs/codecs.ts';
import { prepareDataDir } from './datadir.ts';
import { ClaimCode } from './vault/claim.ts';
import { ExclusionMatcher, openExclusions, sealExclusions } from './vault/exclusions.ts';
import type { RequestRegister } from './requests/register.ts';
import { Alerter } from './alerts/alerter.ts';
import { NotificationStore } from './alerts/store.ts';
import { checkNotifications, type Channel, type NotificationsConfig } from './alerts/config.ts';

export const AUDIT_CHECKPOINT_MS = 3600_000;

export interface BoxOptions { config: Config; log: Log; clock: Clock; speechDir: string; version?: string }

/** Where everything lives under the data folder. */
export const dataPaths = (dataDir: string) => ({
  vault: join(dataDir, 'vault'),
  archive: join(dataDir, 'archive'),
  ring: join(dataDir, 'ring.bin'),
  settings: join(dataDir, 'settings.json'),
  audit: join(dataDir, 'audit.log'),
  socket: join(dataDir, 'control.sock'),
  holds: join(dataDir, 'holds.json'),
  notifications: join(dataDir, 'notifications.json'),
  alertsOutbox: join(dataDir, 'alerts-outbox.json'),
});

/** Calls the box records at once: one per analog line, maxCalls per trunk; the ring holds minutesPerLine for each. */
const callSlots = (cfg: Config): number => cfg.lines.reduce((n, l) => n + callsOf(l), 0);

/** What each button/LED of the board is for: board.units, or one per line in the order of lines. */
const boardUnits = (cfg: Config): { line: string; extension?: string }[] => (cfg.board.units.length ? cfg.board.units : cfg.lines.map((l) => ({ line: l.id })));

/** The composition of every service of one running box; main.ts, the HTTP app and the CLI share it. */
export class Box {
  readonly sources: LineSource[] = [];
  sim?: SimSource;
  siprec?: SiprecSource;
  retention?: RetentionScheduler;
  /** the save button / LED / line sense board (issue 5); undefined with board.driver "none" */
  board?: ControlBoard;
  boardController?: BoardController;
  health?: Health;
  /** legal holds (issue 6) */
  holds?: HoldStore;
  /** Until the box is set up: the one-time code (or save-button long press) that setup needs (issue 10). */
  claim?: ClaimCode;
  /** the exclusion list, matched while locked against salted slow hashes (issue 10) */
  readonly exclusions: ExclusionMatcher;
  /** zxcvbn with its dictionaries, loaded on the first passphrase it judges */
  readonly strength = new PassphraseStrength();
  /** 'passphrase' (user, session token to keep): the web app ends that user's other sessions */
  readonly userEvents = new EventEmitter<{ passphrase: [user: string, keepToken: string | undefined] }>();
  private readonly strangers: StrangerLimit;
  private checkpointTimer?: NodeJS.Timeout;
  /** the data-subject request register, set by the requests routes once loaded */
  requests?: RequestRegister;
  /** alerts off the box (issue 12) */
  alerter?: Alerter;
  /** the Notifications page's settings; replace the config file's section when set */
  readonly notificationStore: NotificationStore;
  /** the one way a kept call is deleted: the web route, erasure requests and retention all use it */
  deleter?: CallDeleter;

  private constructor(
    private readonly base: Config,
    readonly log: Log,
    readonly clock: Clock,
    readonly settings: SettingsStore,
    readonly vault: Vault,
    readonly archive: Archive,
    readonly ring: Ring,
    readonly audit: AuditLog,
    readonly recorder: Recorder,
    readonly catalog: Catalog,
  ) {
    this.strangers = new StrangerLimit({ ...STRANGER_LIMITS, now: clock.now });
    this.exclusions = new ExclusionMatcher(() => settings.exclusions, () => base.exclusions);
    this.notificationStore = new NotificationStore(dataPaths(base.dataDir).notifications);
  }

  static async open(o: BoxOptions): Promise<Box> {
    const p = dataPaths(o.config.dataDir);
    await prepareDataDir(o.config.dataDir);
    const settings = new SettingsStore(p.settings);
    await settings.load();
    const cfg = settings.effective(o.config);
    const vault = new Vault(p.vault);
    const archive = new Archive({ dir: p.archive, vault, log: (msg, extra) => o.log.info({ ...extra }, msg) });
    const opened = await archive.open();
    o.log.info(opened, 'archive opened');
    const ring = await Ring.open({ path: p.ring, slots: slotsForMinutes(cfg.ring.minutesPerLine, callSlots(cfg)), log: (msg, extra) => o.log.info({ ...extra }, msg) });
    // Checkpoints are signed with the box's Ed25519 key once the box is set up (issue 10).
    const audit = new AuditLog(p.audit, o.clock.now, async () => ((await vault.isInitialized()) ? vault : undefined));
    await audit.open();
    // A call a power cut left open is finished and marked at open(); the audit log says so too.
    for (const r of archive.recoveredCalls) {
      // A full disk must not keep the box from starting: the call's signed header carries the mark regardless.
      await audit.append({ actor: 'box', action: 'call.recovered', target: r.id, detail: { storedMs: r.storedMs, stoppedAt: r.stoppedAt, why: 'the box stopped while the call was kept' } })
        .catch((e: unknown) => o.log.error({ err: e, id: r.id }, 'could not audit a recovered call'));
    }
    let box: Box | undefined;
    const recorder = new Recorder({
      ring, archive, clock: o.clock, log: o.log,
      lines: () => box!.config().lines, graceSeconds: () => box!.config().graceSeconds, exclusions: () => (n: string) => box!.exclusions.matches(n),
    });
    const catalog = new Catalog(archive);
    box = new Box(o.config, o.log, o.clock, settings, vault, archive, ring, audit, recorder, catalog);
    await box.sealLegacyExclusions();
    recorder.on('archived', (h) => void catalog.refresh(h.id).catch((e) => o.log.error({ err: e }, 'catalog refresh failed')));
    recorder.on('kept', (k) => void audit.append({ actor: 'box', action: 'call.kept', target: k.callId, detail: { line: k.line, keptBy: k.keptBy } })
      .catch((e: unknown) => o.log.error({ err: e, id: k.callId }, 'could not audit a kept call')));
    // Made before the line sources so they can listen to its line sense; started after them.
    box.board = createBoard(() => box!.config().board, () => boardUnits(box!.config()).map(unitKey), o.log);
    if (!(await vault.isInitialized())) {
      box.claim = new ClaimCode(o.clock.now);
      // Someone who can touch the box may set it up without the printed code.
      box.board?.on('press', (p) => {
        if (p.kind !== 'long' || !box!.claim) return;
        box!.claim.pressed();
        o.log.warn('save button held on a box that is not set up: setup is allowed without the claim code for 10 minutes');
      });
    }
    const simLines = cfg.lines.filter((l) => l.source === 'sim');
    if (simLines.length > 0) {
      box.sim = new SimSource({
        lines: simLines.map((l) => ({ id: l.id, channels: l.channels })), speechDir: o.speechDir,
        random: cfg.sim.randomCalls ? { meanGapSec: cfg.sim.meanGapSec, minSec: 5, maxSec: 90 } : false,
        speed: cfg.sim.speed, clock: o.clock.now,
      });
      box.sources.push(box.sim);
    }
    const siprecLines = cfg.lines.filter((l) => l.source === 'siprec');
    const pcapLines = cfg.lines.filter((l) => l.source === 'pcap');
    // G.722, G.729 and Opus through Debian's libraries; one log line for each one missing, and the box runs on
    const codecs = siprecLines.length + pcapLines.length > 0 ? Codecs.open(o.log) : undefined;
    if (siprecLines.length > 0) {
      const sc = cfg.siprec;
      box.siprec = new SiprecSource({
        lines: siprecLines.map((l) => ({ id: l.id, channels: l.channels, match: l.match ?? [], maxCalls: callsOf(l) })), log: o.log, now: o.clock.now, codecs,
        server: {
          host: sc.host, port: sc.port, udp: sc.udp, tcp: sc.tcp, mediaAddr: sc.mediaAddr, rtpPortMin: sc.rtpPortMin, rtpPortMax: sc.rtpPortMax, rtpTimeoutMs: sc.rtpTimeoutSec * 1000, answerDelayMs: sc.answerDelayMs, maxSessions: sc.maxSessions, allowFrom: sc.allowFrom,
          t1Ms: sc.timerT1Ms, pausedProbeMs: sc.pausedProbeSec * 1000, tcpIdleMs: sc.tcpIdleSec * 1000, tcpPerAddress: sc.tcpPerAddress,
          ...(sc.tls ? { tls: await readSipTls({ port: sc.tls.port, cert: sc.tls.cert ?? (cfg.http.tls ? cfg.http.tls.cert : ''), key: sc.tls.key ?? (cfg.http.tls ? cfg.http.tls.key : ''), ...(sc.tls.ca ? { ca: sc.tls.ca } : {}) }) } : {}),
        },
      });
      box.sources.push(box.siprec);
    }
    if (pcapLines.length > 0) {
      box.sources.push(new PcapSource({
        lines: pcapLines.map((l) => ({ id: l.id, channels: l.channels, match: l.match ?? [], maxCalls: callsOf(l) })), log: o.log, now: o.clock.now,
        interface: cfg.pcap.interface, filter: cfg.pcap.filter, rtpTimeoutMs: cfg.pcap.rtpTimeoutSec * 1000, codecs,
      }));
    }
    const holds = new HoldStore({
      path: p.holds, archive, vault, audit, now: o.clock.now,
      accountOf: (name) => settings.users.find((u) => u.name === name),
      partiesOf: (id) => { const h = archive.get(id); return h && catalog.unlocked ? catalog.summary(h) : undefined; },
    });
    await holds.open();
    box.holds = holds;
    // A held number is matched from the live call's parties, so a call kept while locked is held too.
    recorder.on('archived', (h, parties) => void holds.onKept(h.id, parties ?? {}).catch((e) => o.log.error({ err: e, id: h.id }, 'legal hold check failed; the next unlock retries')));
    box.deleter = new CallDeleter({ archive, catalog, audit, maybeHeld: (id) => holds.maybeHeld(id) });
    // Retention per purpose from the settings (privacy page), checked at every run.
    box.retention = new RetentionScheduler({
      archive, audit, clock: o.clock, log: o.log, policy: () => validateRetention(box!.config().retention), numberHeld: (id) => holds.maybeHeld(id),
      deleter: box.deleter,
    });
    box.retention.start();
    // The audit chain is anchored hourly (when it grew), so at most an hour of entries can be cut unseen.
    box.checkpointTimer = setInterval(() => void audit.checkpoint().catch((e) => o.log.error({ err: e }, 'audit checkpoint failed')), AUDIT_CHECKPOINT_MS);
    box.checkpointTimer.unref();
    for (const s of box.sources) recorder.attach(s);
    for (const s of box.sources) {
      // A source that fails to start is logged; the rest of the box keeps running.
      await s.start().catch((e) => o.log.error({ err: e, source: s.kind }, 'line source failed to start'));
    }
    await box.startBoard(p.archive);
    await box.notificationStore.load();
    await box.startAlerts(p.alertsOutbox, o.version ?? '0');
    // Analog lines (issue 3) start after the board, whose line sense they may use.
    const analogLines = cfg.lines.filter((l) => l.source === 'alsa');
    if (analogLines.length > 0) {
      const analog = new AnalogSource({ devices: cfg.alsa.devices, lines: analogLines, board: box.board, log: o.log, clock: o.clock.now });
      box.sources.push(analog);
      recorder.attach(analog);
      await analog.start().catch((e) => o.log.error({ err: e, source: analog.kind }, 'line source failed to start'));
    }
    return box;
  }

  config(): Config { return this.settings.effective(this.base); }

  /** Box health and the control board; a board that fails to start is a fault, and recording goes on. */
  private async startBoard(archiveDir: string): Promise<void> {
    const cfg = () => this.config();
    this.health = new Health({
      clock: this.clock, log: this.log, lines: () => this.recorder.status(), initialized: () => this.vault.isInitialized(),
      archiveDir, archivedMs: () => this.archive.list().reduce((s, h) => s + h.durationMs, 0),
      hoursWanted: () => cfg().health.diskHoursWanted, checkSeconds: cfg().health.checkSeconds, board: this.board,
      archiveFault: () => this.recorder.archiveFault(),
    });
    this.recorder.on('change', () => this.health?.changed());
    // A write the disk refused (or a retry) re-reads the free space at once, so health.disk is current.
    this.recorder.on('archive-fault', () => void this.health?.refresh());
    await this.health.start();
    if (!this.board) return;
    this.boardController = new BoardController({
      board: this.board, recorder: this.recorder, health: this.health, log: this.log, now: () => this.clock.now(),
      mode: () => cfg().board.buttonMode, audit: (e) => this.audit.append(e), units: () => boardUnits(cfg()),
      beepDevice: () => (cfg().board.beep ? cfg().board.beepDevice : undefined),
    });
    await this.board.start().catch((e) => this.log.error({ err: e, board: this.board?.kind }, 'control board failed to start'));
  }

  coverageMinutes(): number { return this.ring.coverageSeconds(callSlots(this.config())) / 60; }
  /** Alerts start after health; an alerter that fails to start is logged and the box records on. */
  private async startAlerts(outboxPath: string, version: string): Promise<void> {
    if (!this.health) return;
    this.alerter = new Alerter({
      settings: () => this.notifications(), language: () => this.config().language, health: this.health, clock: this.clock, log: this.log,
      vault: async () => ({ initialized: await this.vault.isInitialized(), unlocked: this.vault.unlocked }),
      deadlines: async () => (this.requests ? (await this.requests.list(false)).filter((r) => r.status === 'open' || r.status === 'in-progress').map((r) => r.deadline) : null),
      outboxPath, lines: () => this.config().lines.map((l) => l.id), hasBoard: !!this.board, version,
      pollSeconds: this.config().health.checkSeconds,
    });
    await this.alerter.start().catch((e) => this.log.error({ err: e }, 'alerts failed to start; the box records on without them'));
  }

  /** The notification settings in force: the page's, else the config file's. */
  notifications(): NotificationsConfig { return this.notificationStore.get() ?? this.config().notifications; }

  /**
   * Replaces the notification settings. A secret left out keeps its stored value (the page never sees
   * it); the result is checked, written, audited (which channels, never a secret) and then used.
   */
  async updateNotifications(actor: string, next: NotificationsConfig): Promise<NotificationsConfig> {
    const problems = checkNotifications(next);
    if (problems.length) throw new RvError('RV_ERR_NOTIFY_SETTINGS', problems.join(' '), 422);
    await this.notificationStore.save(next);
    await this.audit.append({ actor, action: 'notifications.change', detail: { email: next.email.enabled, webhook: next.webhook.enabled, mqtt: next.mqtt.enabled } });
    await this.alerter?.reconfigure();
    return next;
  }

  async testNotification(actor: string, channel: Channel, settings: NotificationsConfig): Promise<void> {
    if (!this.alerter) throw new RvError('RV_ERR_NOT_READY', 'Alerts are not running; see the log for why.', 503);
    try {
      await this.alerter.test(channel, settings);
    } finally {
      await this.audit.append({ actor, action: 'notifications.test', detail: { channel } });
    }
  }

  async initialized(): Promise<boolean> { return this.vault.isInitialized(); }

  async setup(username: string, passphrase: string, via: 'web' | 'cli' = 'web'): Promise<{ recoveryKey: string; user: StoredUser }> {
    const r = await firstRunSetup({ vault: this.vault, settings: this.settings, audit: this.audit, now: this.clock.now, strength: this.strength }, username, passphrase, via);
    this.claim = undefined;
    await this.catalog.unlock();
    await this.holds?.sweep().catch((e) => this.log.error({ err: e }, 'legal hold sweep failed'));
    void this.health?.refresh();
    return r;
  }

  /**
   * An audit entry caused by someone not logged in (a failed login, a refused setup): marked as a
   * stranger's, with the address, and limited per address so a flood from the LAN cannot fill the log.
   */
  async auditStranger(from: string, action: string, detail: Record<string, unknown> = {}, target?: string): Promise<void> {
    const admitted = this.strangers.admit(from);
    if (!admitted) return;
    await this.audit.append({
      actor: 'stranger', action, ...(target ? { target } : {}),
      detail: { from, ...detail, ...(admitted.droppedBefore ? { droppedBefore: admitted.droppedBefore } : {}) },
    });
  }

  async authenticate(username: string, passphrase: string, from = 'local'): Promise<StoredUser> {
    const user = this.settings.users.find((u) => u.name === username);
    // Check even for unknown users, at the same cost, so timing does not tell which names exist.
    const r = await checkPassword(passphrase, user?.passHash ?? DUMMY_VERIFIER);
    if (!user || !r.ok) {
      // Never what was typed (people type passphrases into the name field): only whether the name exists.
      await this.auditStranger(from, 'login.failed', { userExists: !!user }, user?.name);
      throw new RvError('RV_ERR_BAD_LOGIN', 'Wrong user name or passphrase.', 401);
    }
    if (r.legacy) await this.upgradeVerifier(user, passphrase);
    await this.audit.append({ actor: user.name, action: 'login' });
    return user;
  }

  /** A verifier from before issue 10 cost half a keyslot; it is replaced by one from the keyslot's own KDF run. */
  private async upgradeVerifier(user: StoredUser, passphrase: string): Promise<void> {
    const verifier = (await this.vault.verifierFor(user.name, passphrase)) ?? await hashPassword(passphrase);
    await this.settings.update((d) => { const u = d.users.find((x) => x.name === user.name); if (u) u.passHash = verifier; });
    await this.audit.append({ actor: user.name, action: 'user.verifier.upgrade' });
  }

  /** Changes one's own passphrase: checks the current one, rewraps the keyslot, stores the new verifier. */
  async changePassphrase(username: string, current: string, next: string, keepSession?: string): Promise<void> {
    await changeOwnPassphrase({ vault: this.vault, settings: this.settings, audit: this.audit, strength: this.strength }, username, current, next);
    // Whoever knew the old passphrase may be logged in elsewhere: those sessions end.
    this.userEvents.emit('passphrase', username, keepSession);
  }

  async unlock(secret: string, actor: string): Promise<{ via: string }> {
    const r = await this.vault.unlock(secret).catch(async (e) => {
      await this.audit.append({ actor, action: 'vault.unlock.failed' });
      throw e;
    });
    await this.catalog.unlock();
    // Learn the held numbers and hold every call kept while the vault was locked.
    await this.holds?.sweep().catch((e) => this.log.error({ err: e }, 'legal hold sweep failed'));
    await this.audit.append({ actor, action: 'vault.unlock', detail: { via: r.via } });
    this.alerter?.poke();
    return { via: r.via };
  }

  async lock(actor: string): Promise<void> {
    this.vault.lock();
    this.catalog.lock();
    await this.audit.append({ actor, action: 'vault.lock' });
  }

  async addUser(actor: string, u: { username: string; passphrase: string; role: Role; extension?: string }): Promise<StoredUser> {
    if (!USERNAME.test(u.username)) throw new RvError('RV_ERR_BAD_USERNAME', 'A user name is 1–32 letters, digits, dots, dashes or underscores.', 422);
    if (!ROLES.includes(u.role)) throw new RvError('RV_ERR_BAD_ROLE', `Role must be one of ${ROLES.join(', ')}.`, 422);
    if (this.settings.users.some((x) => x.name === u.username)) throw new RvError('RV_ERR_USER_EXISTS', `There is already a user "${u.username}".`, 409);
    this.strength.require(u.passphrase, [u.username]);
    // Staff never unlock the vault, so they get no keyslot; the others' verifier comes from their keyslot's KDF run.
    const passHash = u.role !== 'staff' ? await this.vault.addKeyslot(u.username, u.passphrase) : await hashPassword(u.passphrase);
    const user: StoredUser = { name: u.username, role: u.role, passHash, createdAt: this.clock.now(), createdBy: actor, ...(u.extension ? { extension: u.extension } : {}) };
    await this.settings.update((d) => { d.users.push(user); }, () => this.audit.append({ actor, action: 'user.add', target: u.username, detail: { role: u.role } }));
    return user;
  }

  async removeUser(actor: string, name: string): Promise<void> {
    const user = this.settings.users.find((x) => x.name === name);
    if (!user) throw new RvError('RV_ERR_NO_SUCH_USER', `There is no user "${name}".`, 404);
    if (user.role === 'admin' && this.settings.users.filter((x) => x.role === 'admin').length === 1) {
      throw new RvError('RV_ERR_LAST_ADMIN', 'This is the last administrator; add another administrator before removing this one.', 409);
    }
    if (await this.vault.hasKeyslot(name)) await this.vault.removeKeyslot(name);
    await this.settings.update((d) => { d.users = d.users.filter((x) => x.name !== name); }, () => this.audit.append({ actor, action: 'user.remove', target: name }));
  }

  async updateSettings(actor: string, patch: SettingsPatch): Promise<Config> {
    const known = new Set(this.base.lines.map((l) => l.id));
    for (const l of patch.lines ?? []) if (!known.has(l.id)) throw new RvError('RV_ERR_UNKNOWN_LINE', `There is no line "${l.id}".`, 404);
    const next = structuredClone(this.settings.overrides);
    if (patch.lines) {
      next.lines ??= [];
      for (const l of patch.lines) {
        const i = next.lines.findIndex((x) => x.id === l.id);
        if (i >= 0) next.lines[i] = { ...next.lines[i], ...l }; else next.lines.push(l);
      }
    }
    for (const k of ['graceSeconds', 'language', 'rolePurposes'] as const) if (patch[k] !== undefined) (next as Record<string, unknown>)[k] = patch[k];
    // The exclusion list is stored hashed and sealed, never among the plain overrides (issue 10).
    delete next.exclusions;
    let sealed = this.settings.exclusions;
    if (patch.exclusions !== undefined) {
      const view = await this.exclusionsView();
      const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
      if (view.exclusionsLocked) {
        // A locked page shows no list; sending it back unchanged must not wipe the sealed one.
        if (!same(patch.exclusions, view.exclusions)) throw new RvError('RV_ERR_VAULT_LOCKED', 'The exclusion list is sealed; unlock the vault to see and change it.', 423);
      } else if (!same(patch.exclusions, view.exclusions) || !sealed) {
        if (!(await this.vault.isInitialized())) throw new RvError('RV_ERR_NOT_SET_UP', 'Set up the box before giving it an exclusion list.', 409);
        sealed = await sealExclusions(patch.exclusions, this.vault, sealed?.kdf.salt);
      }
    }
    // Retention goes through the same checks the scheduler applies, so a stored policy always runs.
    if (patch.retention !== undefined) next.retention = validateRetention(patch.retention);
    // Check the result before it is stored: a keep purpose must be one the line announces.
    for (const l of applyOverrides(this.base, next).lines) {
      const stray = l.keepPurposes.filter((p) => !l.announced.includes(p));
      if (stray.length) throw new RvError('RV_ERR_PURPOSE_NOT_ANNOUNCED', `Line ${l.id}: ${stray.join(', ')} is kept for but not announced; announce it or remove it from the keep purposes.`, 422);
    }
    // The audit log is plain text: excluded (private) numbers are counted, not written.
    const logged = patch.exclusions ? { ...patch, exclusions: `${patch.exclusions.length} number(s)` } : patch;
    // In effect only once settings.json and the audit entry are both durable; a full disk changes nothing.
    await this.settings.update((d) => { d.overrides = next; if (sealed) d.exclusions = sealed; else delete d.exclusions; }, () => this.audit.append({ actor, action: 'settings.change', detail: { patch: logged } }));
    return this.config();
  }

  /** How many numbers are on the exclusion list (known while locked too). */
  exclusionCount(): number { return this.settings.exclusions?.hashes.length ?? this.base.exclusions.length; }

  /** The exclusion list as the settings pages show it: the numbers when unlocked, only that a list exists when locked. */
  async exclusionsView(): Promise<{ exclusions: string[]; exclusionsLocked?: true }> {
    const s = this.settings.exclusions;
    if (!s) return { exclusions: [...this.base.exclusions] };
    if (!this.vault.unlocked) return s.hashes.length ? { exclusions: [], exclusionsLocked: true } : { exclusions: [] };
    return { exclusions: await openExclusions(s, this.vault) };
  }

  /** An exclusion list stored in the clear by an older version is hashed and sealed at start. */
  async sealLegacyExclusions(): Promise<void> {
    const plain = this.settings.overrides.exclusions;
    if (plain === undefined || !(await this.vault.isInitialized())) return;
    const sealed = await sealExclusions(plain, this.vault);
    await this.settings.update((d) => { d.exclusions = sealed; delete d.overrides.exclusions; });
    this.log.info({ numbers: plain.length }, 'exclusion list moved out of the clear: hashed and sealed in settings.json');
  }

  async close(): Promise<void> {
    await this.retention?.stop();
    await this.alerter?.stop();
    this.boardController?.stop();
    await this.board?.stop().catch(() => undefined);
    this.health?.stop();
    for (const s of this.sources) await s.stop().catch(() => undefined);
    await this.recorder.close();
    await this.ring.close();
    clearInterval(this.checkpointTimer);
    // A clean stop anchors the tail, so a cut made while the box is off shows.
    await this.audit.checkpoint().catch((e) => this.log.error({ err: e }, 'audit checkpoint at stop failed'));
    await this.audit.close();
    this.vault.lock();
  }
}
