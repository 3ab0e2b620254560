import { readFile } from 'node:fs/promises';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttSettings } from './config.ts';
import { explainMqtt } from './explain.ts';

/** The box's health as Home Assistant entities read it: ON/OFF per problem, numbers for the disk and requests. */
export type MqttState = Record<string, string | number | null>;

export interface MqttIdentity { nodeId: string; name: string; version: string; lines: string[]; board: boolean }

interface Entity { component: 'binary_sensor' | 'sensor'; key: string; name: string; deviceClass?: string; unit?: string; icon?: string }

/** The entities the box announces through discovery; `key` is the field in the state JSON. */
export function entities(id: MqttIdentity): Entity[] {
  return [
    { component: 'binary_sensor', key: 'problem', name: 'Problem', deviceClass: 'problem' },
    ...id.lines.map((l): Entity => ({ component: 'binary_sensor', key: `line_${l.replace(/-/g, '_')}_audio_lost`, name: `Line ${l} audio lost`, deviceClass: 'problem' })),
    ...(id.board ? [{ component: 'binary_sensor', key: 'board_connected', name: 'Save-button box', deviceClass: 'connectivity' } as Entity] : []),
    { component: 'binary_sensor', key: 'disk_low', name: 'Disk nearly full', deviceClass: 'problem' },
    { component: 'binary_sensor', key: 'archive_write_failed', name: 'Archive write failing', deviceClass: 'problem' },
    { component: 'binary_sensor', key: 'clock_unsynced', name: 'Clock not synchronised', deviceClass: 'problem' },
    { component: 'binary_sensor', key: 'vault_locked', name: 'Vault locked too long', deviceClass: 'problem' },
    { component: 'binary_sensor', key: 'requests_overdue', name: 'Data-subject requests overdue', deviceClass: 'problem' },
    { component: 'binary_sensor', key: 'requests_due_soon', name: 'Data-subject requests due soon', deviceClass: 'problem' },
    { component: 'binary_sensor', key: 'replication_failing', name: 'Replication failing', deviceClass: 'problem' },
    { component: 'sensor', key: 'disk_hours_left', name: 'Recording hours left on disk', unit: 'h', icon: 'mdi:harddisk' },
    { component: 'sensor', key: 'disk_free_gb', name: 'Free disk', unit: 'GB', deviceClass: 'data_size' },
    { component: 'sensor', key: 'requests_open', name: 'Open data-subject requests', icon: 'mdi:account-question' },
  ];
}

const topics = (s: MqttSettings, nodeId: string) => ({
  availability: `${s.topicPrefix}/${nodeId}/availability`,
  state: `${s.topicPrefix}/${nodeId}/state`,
  event: `${s.topicPrefix}/${nodeId}/event`,
  test: `${s.topicPrefix}/${nodeId}/test`,
});

async function options(s: MqttSettings, nodeId: string, extra: Partial<IClientOptions>): Promise<IClientOptions> {
  const ca = s.caFile ? await readFile(s.caFile) : undefined;
  return {
    clientId: `ringvault-${nodeId}-${Math.random().toString(16).slice(2, 8)}`, protocolVersion: 4, clean: true, connectTimeout: 10_000,
    ...(s.username ? { username: s.username, password: s.password } : {}),
    ...(ca ? { ca } : {}),
    ...extra,
  };
}

/**
 * A lasting connection to the broker: announces the entities (retained discovery configs), keeps
 * `online`/`offline` on the availability topic (the broker publishes `offline` as our will if the
 * box dies), and publishes the state retained whenever it changes and after every reconnect.
 */
export class MqttPublisher {
  private client?: MqttClient;
  private state: MqttState = {};
  private readonly t: ReturnType<typeof topics>;

  constructor(private readonly s: MqttSettings, private readonly id: MqttIdentity, private readonly log: { warn(o: object, m: string): void; info(o: object, m: string): void }) {
    this.t = topics(s, id.nodeId);
  }

  async start(): Promise<void> {
    const opts = await options(this.s, this.id.nodeId, {
      reconnectPeriod: 5000,
      will: { topic: this.t.availability, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    const client = mqtt.connect(this.s.url, opts);
    this.client = client;
    let failing = false;
    client.on('connect', () => {
      if (failing) this.log.info({ broker: new URL(this.s.url).host }, 'MQTT broker reachable again');
      failing = false;
      void this.announce().catch((e) => this.log.warn({ err: (e as Error).message }, 'MQTT announce failed'));
    });
    client.on('error', (e) => {
      // Said once per outage, not at every reconnect attempt.
      if (!failing) this.log.warn({ reason: explainMqtt(e as Error, new URL(this.s.url)).message }, 'MQTT broker not usable; retrying every 5 s');
      failing = true;
    });
  }

  private async announce(): Promise<void> {
    const c = this.client;
    if (!c) return;
    const device = { identifiers: [`ringvault_${this.id.nodeId}`], name: `ringvault ${this.id.name}`, manufacturer: 'ringvault', model: 'call recorder', sw_version: this.id.version };
    for (const e of entities(this.id)) {
      const config = {
        name: e.name, unique_id: `ringvault_${this.id.nodeId}_${e.key}`, object_id: `ringvault_${this.id.nodeId}_${e.key}`,
        state_topic: this.t.state, value_template: `{{ value_json.${e.key} }}`,
        availability_topic: this.t.availability, payload_available: 'online', payload_not_available: 'offline',
        ...(e.component === 'binary_sensor' ? { payload_on: 'ON', payload_off: 'OFF' } : { state_class: 'measurement' }),
        ...(e.deviceClass ? { device_class: e.deviceClass } : {}), ...(e.unit ? { unit_of_measurement: e.unit } : {}), ...(e.icon ? { icon: e.icon } : {}),
        device,
      };
      await c.publishAsync(`${this.s.discoveryPrefix}/${e.component}/ringvault_${this.id.nodeId}/${e.key}/config`, JSON.stringify(config), { qos: 1, retain: true });
    }
    await c.publishAsync(this.t.availability, 'online', { qos: 1, retain: true });
    await c.publishAsync(this.t.state, JSON.stringify(this.state), { qos: 1, retain: true });
  }

  setState(state: MqttState): void {
    const next = JSON.stringify(state);
    if (next === JSON.stringify(this.state)) return;
    this.state = state;
    if (this.client?.connected) this.client.publish(this.t.state, next, { qos: 1, retain: true });
  }

  /** An alert as an event (not retained), for automations that act on changes. */
  event(body: string): void {
    if (this.client?.connected) this.client.publish(this.t.event, body, { qos: 1 });
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    if (c.connected) await Promise.race([c.publishAsync(this.t.availability, 'offline', { qos: 1, retain: true }), new Promise((r) => setTimeout(r, 1000))]).catch(() => undefined);
    await c.endAsync(true).catch(() => undefined);
  }
}

/** Connects once, publishes a test message with QoS 1 (so the broker acknowledged it) and leaves. */
export async function testMqtt(s: MqttSettings, nodeId: string, body: string): Promise<void> {
  const url = new URL(s.url);
  let client: MqttClient | undefined;
  try {
    client = await mqtt.connectAsync(s.url, await options(s, nodeId, { reconnectPeriod: 0 }), false);
    await client.publishAsync(topics(s, nodeId).test, body, { qos: 1 });
  } catch (e) {
    throw explainMqtt(e as Error, url);
  } finally {
    await client?.endAsync(true).catch(() => undefined);
  }
}
