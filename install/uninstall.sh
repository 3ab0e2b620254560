#!/usr/bin/env bash
# Removes the ringvault service and app. Keeps the recordings (/var/lib/ringvault), the config
# and certificate (/etc/ringvault) and the ringvault user unless --purge is given.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo install/uninstall.sh [options]

  --purge      also delete the data (every kept recording, the vault, the audit log), the
               config, the certificate and the ringvault user; asks to type "delete" first
  --yes        with --purge: do not ask (for scripts)
  --dry-run    print every step, change nothing (no root needed)
  --root DIR   remove the files under DIR instead of / and print the system steps
  -h, --help   this text
EOF
}

ROOT=""
DRY=0
PURGE=0
YES=0
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1; shift ;;
    --yes) YES=1; shift ;;
    --dry-run) DRY=1; shift ;;
    --root) ROOT="$(realpath -m "${2:?--root needs a folder}")"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1; see --help" >&2; exit 2 ;;
  esac
done

APP=/opt/ringvault
ETC=/etc/ringvault
DATA=/var/lib/ringvault
UNIT_DIR=/etc/systemd/system

say() { printf '==> %s\n' "$*"; }
sys() { if [ "$DRY" = 1 ] || [ -n "$ROOT" ]; then printf '+ %s\n' "$*"; else "$@"; fi; }
fs() { if [ "$DRY" = 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi; }
R() { printf '%s%s' "$ROOT" "$1"; }

if [ "$DRY" = 0 ] && [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  echo "uninstall.sh: needs root to stop the service; run: sudo $0 $*" >&2
  exit 1
fi
if [ "$PURGE" = 1 ] && [ "$YES" = 0 ] && [ "$DRY" = 0 ]; then
  [ -t 0 ] || { echo "uninstall.sh: --purge deletes every recording; add --yes when not at a terminal." >&2; exit 1; }
  printf 'This deletes every kept recording in %s, the config and the certificate.\nType "delete" to go on: ' "$DATA"
  read -r answer
  [ "$answer" = delete ] || { echo "Nothing deleted."; exit 1; }
fi

say "stopping and removing the service"
if [ -e "$(R "$UNIT_DIR/ringvault.service")" ] || [ "$DRY" = 1 ]; then sys systemctl disable --now ringvault.service; fi
fs rm -f "$(R "$UNIT_DIR/ringvault.service")"
fs rm -rf "$(R "$UNIT_DIR/ringvault.service.d")"
fs rm -f "$(R /etc/udev/rules.d/99-ringvault.rules)" "$(R /etc/alsa/conf.d/60-ringvault.conf)"
sys udevadm control --reload
sys systemctl daemon-reload
say "removing $APP"
fs rm -rf "$(R "$APP")" "$(R "$APP.new")" "$(R "$APP.old")"

if [ "$PURGE" = 1 ]; then
  say "deleting $DATA and $ETC and the ringvault user"
  fs rm -rf "$(R "$DATA")" "$(R "$ETC")"
  if getent passwd ringvault >/dev/null 2>&1 || [ "$DRY" = 1 ] || [ -n "$ROOT" ]; then sys userdel ringvault; fi
else
  say "kept: recordings and vault in $DATA, config and certificate in $ETC, user ringvault"
  echo "    (install again to carry on where it stopped; --purge deletes them)"
fi
