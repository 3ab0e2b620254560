import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ROOT } from './appliance.ts';

/**
 * Runs the real appliance with its data folder on a tmpfs of a few MB, and lets the test fill and free
 * that file system. As root the tmpfs is mounted directly; otherwise in a user + mount namespace
 * (`unshare -rm`), where only processes inside see it, so a bash wrapper inside runs the box and the
 * test's fill/free commands alike (one code path either way).
 */
const WRAPPER = String.raw`
set -u
dir="$1"; size="$2"; shift 2
mount -t tmpfs -o "size=$size,mode=0700" tmpfs "$dir" || { echo "CTL mount-failed"; exit 3; }
mkdir -p "$dir/data"
"$@" &
app=$!
echo "CTL started"
while read -r cmd arg; do
  case "$cmd" in
    fill) dd if=/dev/zero of="$dir/ballast" bs=16k 2>/dev/null; sync; echo "CTL filled $(stat -f -c %a "$dir")";;
    free) rm -f "$dir/ballast"; echo "CTL freed $(stat -f -c %a "$dir")";;
    opens) echo "CTL opens $(find "$dir/data/archive" -name '*.open.json' | wc -l)";;
    quarantined) echo "CTL quarantined $(find "$dir/data/archive/quarantine" -type f 2>/dev/null | wc -l)";;
    stop) kill -TERM "$app" 2>/dev/null; wait "$app"; echo "CTL stopped $?";;
    kill) kill -KILL "$app" 2>/dev/null; wait "$app"; echo "CTL killed";;
    start) "$@" & app=$!; echo "CTL started";;
    alive) if kill -0 "$app" 2>/dev/null; then echo "CTL alive yes"; else echo "CTL alive no"; fi;;
  esac
done
kill -TERM "$app" 2>/dev/null; wait "$app"
umount "$dir" 2>/dev/null
`;

/** How this machine can mount a tmpfs: directly (root) or inside `unshare -rm`; undefined when neither works. */
export function smallDiskPrefix(): string[] | undefined {
  const ways: string[][] = process.getuid?.() === 0 ? [[], ['unshare', '-rm']] : [['unshare', '-rm']];
  for (const way of ways) {
    const probe = [...way, 'bash', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d" && rmdir "$d"'];
    if (spawnSync(probe[0]!, probe.slice(1), { stdio: 'ignore' }).status === 0) return way;
  }
  return undefined;
}

export interface SmallDiskBox {
  url: string;
  /** data folder as the box sees it (inside the tmpfs) */
  dataDir: string;
  child: ChildProcess;
  stderr(): string;
  /** sends a wrapper command (fill, free, opens, quarantined, stop, kill, start, alive) and returns its reply */
  ctl(cmd: string): Promise<string>;
  /** after `start`: the new listening URL */
  nextUrl(): Promise<string>;
  /** the first-setup claim code the box printed */
  claimCode(): Promise<string>;
  close(): Promise<void>;
}

export async function startOnSmallDisk(mountDir: string, sizeMb: number, args: string[], env: Record<string, string> = {}): Promise<SmallDiskBox> {
  const prefix = smallDiskPrefix();
  if (!prefix) throw new Error('cannot mount a tmpfs here: neither as root nor with unshare -rm (user namespaces disabled?)');
  const dataDir = join(mountDir, 'data');
  const box = [process.execPath, '--import', 'tsx', join(ROOT, 'src/main.ts'), '--data', dataDir, '--port', '0', ...args];
  const cmd = [...prefix, 'bash', '-c', WRAPPER, 'small-disk', mountDir, `${sizeMb}m`, ...box];
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, RINGVAULT_LOG: 'warn', ...env } });
  let out = '';
  let err = '';
  let seen = 0;
  let urls = 0;
  const waiters: (() => void)[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; for (const w of waiters.splice(0)) w(); });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const next = async (test: (line: string) => string | undefined, what: string): Promise<string> => {
    const end = Date.now() + 60_000;
    for (;;) {
      const lines = out.split('\n');
      for (; seen < lines.length - 1; seen++) {
        const v = test(lines[seen]!);
        if (v !== undefined) { seen++; return v; }
      }
      if (child.exitCode !== null) throw new Error(`the small-disk box exited (${child.exitCode}) waiting for ${what}:\n${out}\n${err.slice(-4000)}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${out}\n${err.slice(-4000)}`);
      await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 200))]);
    }
  };
  const nextUrl = () => next((l) => {
    const m = /listening on (https?:\/\/\S+)/.exec(l);
    if (m) urls++;
    return m?.[1];
  }, 'the box to listen');
  const url = await nextUrl();
  return {
    url, dataDir, child, stderr: () => err, nextUrl,
    claimCode: () => next((l) => /claim code for the first setup: ([0-9A-Z]{5}-[0-9A-Z]{5})/.exec(l)?.[1], 'the claim code'),
    async ctl(c: string) {
      child.stdin!.write(`${c}\n`);
      const word = c.split(' ')[0]!;
      const reply = word === 'start' ? 'started' : word === 'stop' ? 'stopped' : word === 'kill' ? 'killed' : word === 'fill' ? 'filled' : word === 'free' ? 'freed' : word;
      return next((l) => (l.startsWith(`CTL ${reply}`) ? l.slice(4) : undefined), `the reply to ${c}`);
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.stdin!.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
