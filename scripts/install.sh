#!/usr/bin/env bash
# Install one Moat role as a systemd service on a plain Debian host (12 or later), from this
# checkout:   sudo bash scripts/install.sh scanner
#
# What it does (each step is printed; --dry-run prints and does nothing):
#   1. Debian's nodejs + npm (only to bootstrap pnpm), then pnpm (the version scripts/setup.sh pins); gcc for the balancer's native relay
#   2. a system user and group `moat` (no login, home /var/lib/moat)
#   3. the app under /opt/moat (owned by root, read-only to the service), its dependencies with
#      the frozen lockfile, and the console build. Node 24 comes from the npm registry as the
#      project's own dependency "node": "npm:node@24" (/opt/moat/node_modules/.bin/node), not
#      from NodeSource or Debian: every Moat host runs the Node the lockfile names.
#   4. /etc/moat/ROLE.yaml from deploy/config/ROLE.yaml and /etc/moat/moat.env (secrets, 0640,
#      a random MOAT_JOIN_SECRET on a master), never overwriting files that exist
#   5. /etc/systemd/system/moat-ROLE.service, daemon-reload, enable (started with --start only:
#      edit the config first)
#
# Options:
#   --dry-run        print every step, change nothing
#   --prefix DIR     install under DIR instead of / (a staging tree): steps outside DIR
#                    (apt, npm -g, the user, chown, systemctl, the dependency install) are skipped
#   --start          start the service at the end
#   --no-deps        skip the dependency install and the console build (already done in /opt/moat)
#   -h, --help
set -euo pipefail

PNPM_VERSION=12.21.0
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; }
die() { echo "install: $*" >&2; exit 2; }

role=""
dry_run=false
prefix="/"
start=false
deps=true
while [ $# -gt 0 ]; do
  case "$1" in
    master|scanner|balancer)
      [ -z "$role" ] || die "one role at a time (got $role and $1)"
      role="$1" ;;
    --dry-run) dry_run=true ;;
    --prefix)
      [ $# -ge 2 ] && [ -n "$2" ] && [ "${2#--}" = "$2" ] || die "--prefix needs a directory"
      prefix="$2"; shift ;;
    --prefix=*) prefix="${1#--prefix=}"; [ -n "$prefix" ] || die "--prefix needs a directory" ;;
    --start) start=true ;;
    --no-deps) deps=false ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (roles: master, scanner, balancer; see --help)" ;;
  esac
  shift
done
[ -n "$role" ] || { usage; die "which role? master, scanner or balancer"; }
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
prefix="${prefix%/}"
system=true
[ -z "$prefix" ] || system=false   # a staging tree: nothing outside it is touched
if $system && ! $dry_run && [ "$(id -u)" -ne 0 ]; then die "run as root (or use --dry-run / --prefix DIR)"; fi
if ! $system && $start; then die "--start needs a real install (no --prefix)"; fi

APP="$prefix/opt/moat"
ETC="$prefix/etc/moat"
UNIT_DIR="$prefix/etc/systemd/system"
UNIT="moat-$role.service"

step() { echo "install: $*"; }
run() {
  if $dry_run; then echo "  would run: $*"; else "$@"; fi
}
system_run() {
  if ! $system; then echo "  skipped (staging tree): $*"; elif $dry_run; then echo "  would run: $*"; else "$@"; fi
}

step "role $role, from $SRC, into ${prefix:-/}$($dry_run && echo ' (dry run: nothing is changed)')"

step "1. Node bootstrap and pnpm $PNPM_VERSION"
if $system && ! command -v npm >/dev/null 2>&1; then
  system_run apt-get update -qq
  system_run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm ca-certificates openssl
fi
# A C compiler for the balancer's native relay (pnpm run build compiles it; without one the
# balancer relays in JavaScript, about 25% more CPU per connection).
if $system && ! command -v cc >/dev/null 2>&1; then
  { system_run apt-get update -qq && system_run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev; } \
    || echo "  gcc could not be installed: the balancer will relay in JavaScript" >&2
fi
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  system_run npm install --global --no-fund --no-audit "pnpm@$PNPM_VERSION"
fi

step "2. system user moat"
if ! id moat >/dev/null 2>&1; then
  system_run useradd --system --user-group --home-dir /var/lib/moat --no-create-home --shell /usr/sbin/nologin moat
fi

step "3. the app in $APP"
run mkdir -p "$APP"
# The checkout without its local state, dependencies or build output.
if $dry_run; then
  echo "  would copy $SRC to $APP (without .git, node_modules, var, dist)"
else
  tar -C "$SRC" --exclude=.git --exclude=node_modules --exclude=./var --exclude=dist --exclude='*.tsbuildinfo' --exclude=.types -cf - . | tar -C "$APP" -xf -
fi
if $deps; then
  system_run sh -c "cd '$APP' && pnpm install --frozen-lockfile && pnpm run build"
fi

step "4. configuration in $ETC"
run mkdir -p "$ETC"
run chmod 0750 "$ETC"
if [ -e "$ETC/$role.yaml" ]; then
  echo "  kept existing $ETC/$role.yaml"
else
  run install -m 0640 "$SRC/deploy/config/$role.yaml" "$ETC/$role.yaml"
fi
if [ -e "$ETC/moat.env" ]; then
  echo "  kept existing $ETC/moat.env"
elif $dry_run; then
  echo "  would write $ETC/moat.env (mode 0640)"
else
  secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  umask 077
  {
    echo "# Secrets for Moat (read by the systemd unit)."
    if [ "$role" = master ]; then
      echo "# The masters' shared secret (a standby master proves itself with it)."
      echo "MOAT_JOIN_SECRET=$secret"
      echo "# MOAT_ADMIN_PASSWORD=   (unset: generated on first start, printed in the journal, kept in the data folder)"
    else
      echo "# MOAT_JOIN_TOKEN=   (a one-time token: 'moat master join-token --config /etc/moat/master.yaml --node NAME' on the master; first join only)"
    fi
  } > "$ETC/moat.env"
  chmod 0640 "$ETC/moat.env"
fi
system_run chown -R root:moat "$ETC"

step "5. systemd unit $UNIT"
run mkdir -p "$UNIT_DIR"
run install -m 0644 "$SRC/deploy/systemd/$UNIT" "$UNIT_DIR/$UNIT"
system_run systemctl daemon-reload
system_run systemctl enable "$UNIT"
if $start; then
  system_run systemctl start "$UNIT"
else
  step "edit $ETC/$role.yaml (and $ETC/moat.env), then: systemctl start $UNIT"
fi
step "done"
