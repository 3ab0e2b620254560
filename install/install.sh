#!/usr/bin/env bash
# Installs ringvault as a service on Raspberry Pi OS (64-bit, bookworm) or Debian 12/13.
# Run from a clone of the repository:  sudo install/install.sh
# Safe to run again: it updates the app and the units and keeps config, certificate and data.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo install/install.sh [options]

  --cert FILE --key FILE   use this certificate and key (PEM) instead of a self-signed one
  --hostname NAME          host name for the certificate (default: this machine's)
  --address IP             an address for the certificate (repeatable; default: `hostname -I`)
  --capture                allow passive capture of a mirrored port (CAP_NET_RAW, tcpdump)
  --sbc ADDR               the SBC/PBX that sends SIPREC (address or a.b.c.d/n; repeatable):
                           written to siprec.allowFrom; asked for when run in a terminal
  --no-start               install and enable, but do not start now
  --dry-run                print every step, change nothing (no root needed)
  --root DIR               install the files under DIR instead of / and print the system
                           steps (packages, user, systemctl) instead of running them
  -h, --help               this text
EOF
}

ROOT=""
DRY=0
CERT=""
KEY=""
HOST_NAME=""
ADDRESSES=()
CAPTURE=0
START=1
SBC=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cert) CERT="${2:?--cert needs a file}"; shift 2 ;;
    --key) KEY="${2:?--key needs a file}"; shift 2 ;;
    --hostname) HOST_NAME="${2:?--hostname needs a name}"; shift 2 ;;
    --address) ADDRESSES+=("${2:?--address needs an IP address}"); shift 2 ;;
    --capture) CAPTURE=1; shift ;;
    --sbc) SBC+=("${2:?--sbc needs an address}"); shift 2 ;;
    --no-start) START=0; shift ;;
    --dry-run) DRY=1; shift ;;
    --root) ROOT="$(realpath -m "${2:?--root needs a folder}")"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1; see --help" >&2; exit 2 ;;
  esac
done

SRC="$(cd "$(dirname "$0")/.." && pwd)"
APP=/opt/ringvault
ETC=/etc/ringvault
DATA=/var/lib/ringvault
UNIT_DIR=/etc/systemd/system
NODE_MAJOR_MIN=20
# alsa-utils: arecord/aplay; sox: WAV checks and line-check; tcpdump: mirrored-port lines;
# gpiod: Pi header board; openssl: certificate; avahi-daemon: the NAME.local address;
# build-essential python3: native modules (serialport) when npm finds no prebuilt binary.
# libopus0, libspandsp2, libbcg729-0: the Opus, G.722 and G.729 decoders SIP trunk calls use (bound at run time through koffi)
PACKAGES=(ca-certificates curl gnupg alsa-utils sox tcpdump gpiod openssl avahi-daemon systemd build-essential python3 libopus0 libspandsp2 libbcg729-0)

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
# A step that changes the system: printed in --dry-run and --root, run otherwise.
sys() {
  if [ "$DRY" = 1 ] || [ -n "$ROOT" ]; then printf '+ %s\n' "$*"; else "$@"; fi
}
# A step on files: printed in --dry-run, run under DIR with --root.
fs() {
  if [ "$DRY" = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}
R() { printf '%s%s' "$ROOT" "$1"; }

[ -f "$SRC/package.json" ] && [ -f "$SRC/systemd/ringvault.service" ] || die "run me from a ringvault clone (cannot find package.json and systemd/ beside install/)."
if [ "$DRY" = 0 ] && [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  die "needs root to install packages, the user and the service; run: sudo $0 $*"
fi
if [ -n "$CERT$KEY" ] && { [ -z "$CERT" ] || [ -z "$KEY" ]; }; then die "give both --cert and --key, or neither."; fi
IP_RE='^[0-9a-fA-F:.]+(/[0-9]{1,3})?$'
for a in "${SBC[@]}"; do
  [[ "$a" =~ $IP_RE ]] || die "--sbc $a is not an IP address or a.b.c.d/n range; give the SBC's address, e.g. --sbc 192.168.1.20."
done
# A given certificate is checked before anything changes.
if [ -n "$CERT" ]; then
  [ -r "$CERT" ] && [ -r "$KEY" ] || die "cannot read $CERT or $KEY."
  openssl x509 -in "$CERT" -noout 2>/dev/null || die "$CERT is not a PEM certificate."
  [ "$(openssl x509 -in "$CERT" -noout -pubkey | openssl sha256)" = "$(openssl pkey -in "$KEY" -pubout 2>/dev/null | openssl sha256)" ] \
    || die "$KEY is not the key of $CERT; give the matching pair."
fi

# ---- 1. Debian packages and Node.js >= 20
node_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
say "Debian packages: ${PACKAGES[*]}"
sys apt-get update -qq
sys env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
if [ "$(node_major)" -ge "$NODE_MAJOR_MIN" ]; then
  say "Node.js $(node --version) is new enough"
else
  # Debian 13 ships Node 20; bookworm ships 18, so there the NodeSource repository provides 22 LTS.
  candidate="$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}' | sed 's/^[0-9]*://; s/\..*//')"
  if [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && [ "$candidate" -ge "$NODE_MAJOR_MIN" ] 2>/dev/null; then
    say "Node.js $candidate from Debian"
    sys env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs
    # Debian packages npm apart; NodeSource's nodejs carries it (and conflicts with Debian's).
    command -v npm >/dev/null 2>&1 || sys env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
  else
    say "Node.js 22 LTS from the NodeSource repository (Debian's is ${candidate:-missing})"
    sys install -d -m 0755 /etc/apt/keyrings
    sys sh -c 'curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg'
    sys sh -c 'echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_22.x nodistro main" > /etc/apt/sources.list.d/nodesource.list'
    sys apt-get update -qq
    sys env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs
  fi
fi
NODE_BIN="$(command -v node || echo /usr/bin/node)"

# ---- 2. User and groups (the unit's SupplementaryGroups must exist, gpio too on plain Debian)
say "user ringvault in groups audio, dialout, gpio"
for g in audio dialout gpio; do
  getent group "$g" >/dev/null 2>&1 || sys groupadd --system "$g"
done
if ! getent passwd ringvault >/dev/null 2>&1; then
  sys useradd --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin --comment "ringvault call recorder" ringvault
fi
sys usermod -a -G audio,dialout,gpio ringvault

# ---- 3. The app in /opt/ringvault (replaced as a whole; runtime dependencies only)
say "app in $APP"
fs install -d -m 0755 "$(R /opt)"
fs rm -rf "$(R "$APP.new")"
fs install -d -m 0755 "$(R "$APP.new")"
for item in bin src web assets board systemd install docs package.json package-lock.json tsconfig.json tsconfig.build.json README.md config.example.json LICENSE; do
  # Not -a: the copy belongs to root, so the user who cloned cannot change what the service runs.
  if [ -e "$SRC/$item" ]; then fs cp -R --preserve=mode,timestamps "$SRC/$item" "$(R "$APP.new")/"; fi
done
fs chmod -R go-w "$(R "$APP.new")"
fs rm -rf "$(R "$APP.old")"
if [ -e "$(R "$APP")" ]; then fs mv "$(R "$APP")" "$(R "$APP.old")"; fi
fs mv "$(R "$APP.new")" "$(R "$APP")"
fs rm -rf "$(R "$APP.old")"
# The box runs compiled JavaScript: build dist/ with the dev tools, then drop them.
sys sh -c "cd $APP && npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund"

# ---- 4. Config and data folders
say "config in $ETC, data in $DATA"
fs install -d -m 0750 "$(R "$ETC")" "$(R "$ETC/tls")"
fs install -d -m 0700 "$(R "$DATA")"
sys chown root:ringvault "$ETC" "$ETC/tls"
sys chown ringvault:ringvault "$DATA"
# SIPREC is taken only from the SBC (siprec.allowFrom): without it any LAN host could place recordings.
if [ ${#SBC[@]} -eq 0 ] && [ ! -e "$(R "$ETC/config.json")" ] && [ "$DRY" = 0 ] && [ -t 0 ]; then
  read -r -p "Address of the SBC/PBX that sends SIPREC (empty: no SIPREC line for now): " answer || answer=""
  for a in ${answer//,/ }; do
    [[ "$a" =~ $IP_RE ]] || die "$a is not an IP address or a.b.c.d/n range; run again and give the SBC's address."
    SBC+=("$a")
  done
fi
SBC_LIST="$(IFS=,; printf '%s' "${SBC[*]}")"
if [ -e "$(R "$ETC/config.json")" ]; then
  say "keeping the existing $ETC/config.json"
  if [ -n "$SBC_LIST" ]; then
    say "SIPREC accepted only from $SBC_LIST (siprec.allowFrom)"
    fs "$NODE_BIN" -e '
      const fs = require("node:fs");
      const [file, sbc] = process.argv.slice(1);
      const c = JSON.parse(fs.readFileSync(file, "utf8"));
      c.siprec = { ...c.siprec, allowFrom: sbc.split(",") };
      delete c.siprec.allowAnyone;
      fs.writeFileSync(file + ".new", JSON.stringify(c, null, 2) + "\n", { mode: 0o640 });
      fs.renameSync(file + ".new", file);
    ' "$(R "$ETC/config.json")" "$SBC_LIST"
  fi
else
  # The example config, made to serve HTTPS on the LAN with a redirect from port 80.
  fs "$NODE_BIN" -e '
    const fs = require("node:fs");
    const [src, out, etc, data, sbc] = process.argv.slice(1);
    const c = JSON.parse(fs.readFileSync(src, "utf8"));
    c.dataDir = data;
    c.http = { ...c.http, host: "0.0.0.0", port: 443, tls: { cert: `${etc}/tls/cert.pem`, key: `${etc}/tls/key.pem` }, redirectPort: 80 };
    // The box refuses a SIPREC line open to anyone: with no SBC address the example SIPREC line is left out.
    c.siprec = { ...c.siprec, allowFrom: sbc ? sbc.split(",") : [] };
    const sip = c.lines.filter((l) => l.source === "siprec").map((l) => l.id);
    if (sbc) console.log(`==> SIPREC accepted only from ${sbc} (siprec.allowFrom)`);
    else if (sip.length) {
      c.lines = c.lines.filter((l) => l.source !== "siprec");
      console.log(`==> no SBC address given: SIPREC line ${sip.join(", ")} left out; run again with --sbc ADDR, or add the line and siprec.allowFrom to config.json`);
    }
    fs.writeFileSync(out, JSON.stringify(c, null, 2) + "\n", { mode: 0o640, flag: "wx" });
  ' "$SRC/config.example.json" "$(R "$ETC/config.json")" "$ETC" "$DATA" "$SBC_LIST"
  sys chown root:ringvault "$ETC/config.json"
fi

# ---- 5. TLS certificate: the one given, the one made before, or a new self-signed one
CERT_OUT="$(R "$ETC/tls/cert.pem")"
KEY_OUT="$(R "$ETC/tls/key.pem")"
if [ -n "$CERT" ]; then
  say "certificate from $CERT"
  fs install -m 0644 "$CERT" "$CERT_OUT"
  fs install -m 0640 "$KEY" "$KEY_OUT"
elif [ -e "$CERT_OUT" ] && [ -e "$KEY_OUT" ]; then
  say "keeping the existing certificate"
else
  [ -n "$HOST_NAME" ] || HOST_NAME="$(hostname -s 2>/dev/null || hostname)"
  if [ ${#ADDRESSES[@]} -eq 0 ]; then read -r -a ADDRESSES <<<"$(hostname -I 2>/dev/null || true)"; fi
  san="DNS:$HOST_NAME,DNS:$HOST_NAME.local,DNS:localhost,IP:127.0.0.1,IP:::1"
  for a in "${ADDRESSES[@]}"; do
    case "$a" in fe80:*) continue ;; esac   # link-local addresses change and need a zone: not for a certificate
    san="$san,IP:$a"
  done
  say "self-signed certificate for $san"
  if [ "$DRY" = 1 ]; then
    printf '+ openssl req -x509 -newkey ec (P-256) -days 3650 -subj /CN=%s -addext subjectAltName=%s -out %s\n' "$HOST_NAME" "$san" "$CERT_OUT"
  else
    cnf="$(mktemp)"
    trap 'rm -f "$cnf"' EXIT
    cat >"$cnf" <<EOF
[req]
distinguished_name = dn
x509_extensions = leaf
prompt = no
[dn]
CN = $HOST_NAME
O = ringvault
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = $san
EOF
    (umask 077 && openssl req -x509 -config "$cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -keyout "$KEY_OUT" -out "$CERT_OUT" 2>/dev/null) || die "openssl could not make the certificate."
    chmod 0644 "$CERT_OUT"
    chmod 0640 "$KEY_OUT"
  fi
fi
sys chown root:ringvault "$ETC/tls/cert.pem" "$ETC/tls/key.pem"

# ---- 6. Units, udev rule and ALSA config; enable and start
say "systemd unit"
fs install -d -m 0755 "$(R "$UNIT_DIR")"
if [ "$DRY" = 1 ]; then
  printf '+ install systemd/ringvault.service %s (ExecStart with %s)\n' "$UNIT_DIR/ringvault.service" "$NODE_BIN"
else
  sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #" "$SRC/systemd/ringvault.service" >"$(R "$UNIT_DIR/ringvault.service")"
  chmod 0644 "$(R "$UNIT_DIR/ringvault.service")"
fi
if [ "$CAPTURE" = 1 ]; then
  fs install -d -m 0755 "$(R "$UNIT_DIR/ringvault.service.d")"
  fs install -m 0644 "$SRC/systemd/capture.conf" "$(R "$UNIT_DIR/ringvault.service.d/capture.conf")"
elif [ -e "$(R "$UNIT_DIR/ringvault.service.d/capture.conf")" ]; then
  # An update without --capture must not take away what a mirrored-port line needs.
  say "keeping the capture drop-in (remove $UNIT_DIR/ringvault.service.d/capture.conf to drop CAP_NET_RAW)"
fi
if [ -f "$SRC/board/udev/99-ringvault.rules" ]; then
  fs install -d -m 0755 "$(R /etc/udev/rules.d)"
  fs install -m 0644 "$SRC/board/udev/99-ringvault.rules" "$(R /etc/udev/rules.d/99-ringvault.rules)"
  sys udevadm control --reload
  sys udevadm trigger
fi
if [ -f "$SRC/board/alsa/ringvault.conf" ]; then
  fs install -d -m 0755 "$(R /etc/alsa/conf.d)"
  fs install -m 0644 "$SRC/board/alsa/ringvault.conf" "$(R /etc/alsa/conf.d/60-ringvault.conf)"
fi
sys systemctl daemon-reload
sys systemctl enable ringvault.service
if [ "$START" = 1 ]; then sys systemctl restart ringvault.service; fi

# ---- 7. What to do next
if [ "$DRY" = 0 ] && [ -e "$CERT_OUT" ]; then
  fp="$(openssl x509 -in "$CERT_OUT" -noout -fingerprint -sha256 | cut -d= -f2)"
  name="${HOST_NAME:-$(hostname -s 2>/dev/null || hostname)}"
  cat <<EOF

ringvault is installed.
  Open   https://$name.local/   (or https://<this box's address>/)
  Your browser warns about the self-signed certificate. Accept it only if it shows
  this SHA-256 fingerprint:
    $fp
  Then set up the box in the browser and store the recovery key it shows, offline.
  The setup page asks for the box's one-time CLAIM CODE, so a guest on the network
  cannot claim the box first. It is made at every start and printed to the journal:
    sudo journalctl -u ringvault | grep "claim code"
  or ask the running box (or hold a save button for two seconds instead):
    sudo -u ringvault $NODE_BIN $APP/bin/ringvault.js claim-code --config $ETC/config.json
  Logs:   journalctl -u ringvault -f
  Config: $ETC/config.json   Data: $DATA
EOF
fi
