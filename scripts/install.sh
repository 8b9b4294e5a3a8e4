#!/usr/bin/env bash
# Install one Moat role as a systemd service on a plain Debian host (12 or later), from a
# release artifact (`pnpm release` writes one; docs/operator-guide.md, "Installing on Debian"):
#   sudo bash install.sh scanner --artifact moat-0.2.0-linux-x64.tar.gz
#
# What it does (each step is printed; --dry-run prints and does nothing):
#   1. checks the artifact's SHA-256 against ARTIFACT.sha256 (or --checksum FILE): a missing
#      or different checksum stops here, before anything is changed
#   2. a system user and group `moat` (no login, home /var/lib/moat)
#   3. the release in /opt/moat/releases/VERSION (owned by root, read-only to the service),
#      /opt/moat/current pointing at it, and /usr/local/bin/moat. The artifact carries Node 24
#      and the production dependencies only (no TypeScript, esbuild or test tools): the host
#      needs no pnpm, no compiler and no registry. Later versions: `moat upgrade ARTIFACT`.
#   4. /etc/moat/ROLE.yaml from the release's deploy/config/ROLE.yaml and /etc/moat/moat.env
#      (secrets, 0640, a random MOAT_JOIN_SECRET on a master), never overwriting files that exist
#   5. /etc/systemd/system/moat-ROLE.service, daemon-reload, enable (started with --start only:
#      edit the config first)
#
# Options:
#   --artifact FILE  the release artifact (moat-VERSION-PLATFORM-ARCH.tar.gz), required
#   --checksum FILE  its sha256 file (default: FILE.sha256, as published beside it)
#   --dry-run        check the checksum, print every other step, change nothing
#   --prefix DIR     install under DIR instead of / (a staging tree): steps outside DIR
#                    (the user, chown, systemctl) are skipped
#   --start          start the service at the end
#   -h, --help
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; }
die() { echo "install: $*" >&2; exit 2; }

role=""
dry_run=false
prefix="/"
start=false
artifact=""
checksum=""
value_of() { [ $# -ge 2 ] && [ -n "$2" ] && [ "${2#--}" = "$2" ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    master|scanner|balancer)
      [ -z "$role" ] || die "one role at a time (got $role and $1)"
      role="$1" ;;
    --dry-run) dry_run=true ;;
    --prefix) value_of --prefix "${2:-}"; prefix="$2"; shift ;;
    --prefix=*) prefix="${1#--prefix=}"; [ -n "$prefix" ] || die "--prefix needs a value" ;;
    --artifact) value_of --artifact "${2:-}"; artifact="$2"; shift ;;
    --artifact=*) artifact="${1#--artifact=}" ;;
    --checksum) value_of --checksum "${2:-}"; checksum="$2"; shift ;;
    --checksum=*) checksum="${1#--checksum=}" ;;
    --start) start=true ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (roles: master, scanner, balancer; see --help)" ;;
  esac
  shift
done
[ -n "$role" ] || { usage; die "which role? master, scanner or balancer"; }
[ -n "$artifact" ] || die "which release? --artifact FILE (build one with 'pnpm release': dist/moat-VERSION-PLATFORM-ARCH.tar.gz)"
[ -f "$artifact" ] || die "--artifact: no file $artifact"
checksum="${checksum:-$artifact.sha256}"
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
prefix="${prefix%/}"
system=true
[ -z "$prefix" ] || system=false   # a staging tree: nothing outside it is touched
if $system && ! $dry_run && [ "$(id -u)" -ne 0 ]; then die "run as root (or use --dry-run / --prefix DIR)"; fi
if ! $system && $start; then die "--start needs a real install (no --prefix)"; fi

APP="$prefix/opt/moat"
ETC="$prefix/etc/moat"
UNIT_DIR="$prefix/etc/systemd/system"
BIN_DIR="$prefix/usr/local/bin"
UNIT="moat-$role.service"

step() { echo "install: $*"; }
run() {
  if $dry_run; then echo "  would run: $*"; else "$@"; fi
}
system_run() {
  if ! $system; then echo "  skipped (staging tree): $*"; elif $dry_run; then echo "  would run: $*"; else "$@"; fi
}

step "role $role, from $artifact, into ${prefix:-/}$($dry_run && echo ' (dry run: nothing is changed)')"

step "1. checksum of $(basename "$artifact")"
[ -f "$checksum" ] || die "no checksum file $checksum (the .sha256 published beside the artifact; another path with --checksum FILE)"
name="$(basename "$artifact")"
# sha256sum's format: "HEX  NAME" (or "HEX *NAME"); a file holding only the digest is accepted too.
expected="$(awk -v n="$name" '$2 == n || $2 == "*" n { print tolower($1); exit } NF == 1 && $1 ~ /^[0-9a-fA-F]+$/ { print tolower($1); exit }' "$checksum")"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "$checksum has no sha256 line for $name"
actual="$(sha256sum "$artifact" | cut -d' ' -f1)"
[ "$actual" = "$expected" ] || die "checksum mismatch: $artifact has sha256 $actual, $checksum says $expected; not installing"
echo "  sha256 $actual matches"

step "2. system user moat"
if ! id moat >/dev/null 2>&1; then
  system_run useradd --system --user-group --home-dir /var/lib/moat --no-create-home --shell /usr/sbin/nologin moat
fi

step "3. the release in $APP"
if $dry_run; then
  echo "  would unpack $artifact into $APP/releases/VERSION, point $APP/current at it, link $BIN_DIR/moat"
  REL="$APP/releases/VERSION"
else
  mkdir -p "$APP/releases"
  unpack="$(mktemp -d "$APP/releases/.unpack-XXXXXX")"
  trap 'rm -rf "$unpack"' EXIT
  tar -xzf "$artifact" -C "$unpack" --no-same-owner
  top="$(ls "$unpack")"
  version="${top#moat-}"
  [[ "$top" == moat-* ]] && [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z][0-9A-Za-z.-]*)?$ ]] && [ -f "$unpack/$top/release.json" ] \
    || die "$artifact is not a Moat release (it should hold one folder moat-VERSION with a release.json)"
  REL="$APP/releases/$version"
  if [ -e "$REL" ]; then
    echo "  kept existing $REL"
  else
    mv "$unpack/$top" "$REL"
    echo "  unpacked $version into $REL"
  fi
  "$REL/bin/moat" --version >/dev/null || die "$REL/bin/moat does not run on this host (another platform?)"
  ln -sfn "releases/$version" "$APP/current"
  mkdir -p "$BIN_DIR"
  ln -sfn "$APP/current/bin/moat" "$BIN_DIR/moat"
  echo "  $APP/current -> releases/$version; $BIN_DIR/moat -> $APP/current/bin/moat"
fi

step "4. configuration in $ETC"
run mkdir -p "$ETC"
run chmod 0750 "$ETC"
if [ -e "$ETC/$role.yaml" ]; then
  echo "  kept existing $ETC/$role.yaml"
else
  run install -m 0640 "$REL/deploy/config/$role.yaml" "$ETC/$role.yaml"
fi
if [ -e "$ETC/moat.env" ]; then
  echo "  kept existing $ETC/moat.env"
elif $dry_run; then
  echo "  would write $ETC/moat.env (mode 0640)"
else
  secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  (
    umask 077
    {
      echo "# Secrets for Moat (read by the systemd unit)."
      if [ "$role" = master ]; then
        echo "# No longer used (it served the retired management failover, docs/masters.md); harmless."
        echo "MOAT_JOIN_SECRET=$secret"
        echo "# MOAT_ADMIN_PASSWORD=   (unset: generated on first start, printed in the journal, kept in the data folder)"
      else
        echo "# MOAT_JOIN_TOKEN=   (a one-time token: 'moat master join-token --config /etc/moat/master.yaml --node NAME' on the master; first join only)"
      fi
    } > "$ETC/moat.env"
  )
  chmod 0640 "$ETC/moat.env"
fi
system_run chown -R root:moat "$ETC"

step "5. systemd unit $UNIT"
run mkdir -p "$UNIT_DIR"
run install -m 0644 "$REL/deploy/systemd/$UNIT" "$UNIT_DIR/$UNIT"
system_run systemctl daemon-reload
system_run systemctl enable "$UNIT"
if $start; then
  system_run systemctl start "$UNIT"
else
  step "edit $ETC/$role.yaml (and $ETC/moat.env), then: systemctl start $UNIT"
fi
step "done"
