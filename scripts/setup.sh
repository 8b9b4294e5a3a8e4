#!/usr/bin/env bash
# Set up Moat on a fresh machine: the spam and virus engines (Debian packages, as root), pnpm
# (if missing), the project-local Node 24 and every dependency, the console build, then a
# typecheck. With --start, run the local cluster afterwards.
#   bash scripts/setup.sh --start         set up and start (the README's first command)
#   bash scripts/setup.sh --frozen        set up exactly as locked (what CI does)
#   bash scripts/setup.sh --no-engines    leave the engines alone (no apt-get)
# The engines (rspamd, redis-server, SpamAssassin's spamd and spamc, clamd) are what pnpm start
# filters mail with; each one missing is a line in its banner. Run as root on Debian, this
# installs them; otherwise it prints the command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.21.0
start=false
frozen=false
engines=true
for arg in "$@"; do
  case "$arg" in
    --start) start=true ;;
    --frozen) frozen=true ;;
    --no-engines) engines=false ;;
    *) echo "setup: unknown option $arg (use --start, --frozen and/or --no-engines)" >&2; exit 2 ;;
  esac
done

# The engines' Debian packages that are not installed yet (Debian 12 splits SpamAssassin in three).
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
missing_engines() {
  local need=()
  has rspamd || need+=(rspamd)
  has redis-server || need+=(redis-server)
  has spamd || need+=(spamassassin spamd)
  has spamc || need+=(spamc)
  has clamd || need+=(clamav-daemon)
  echo "${need[@]}"
}
if $engines; then
  need="$(missing_engines)"
  if [ -z "$need" ]; then
    echo "setup: engines: rspamd, redis-server, spamd, clamd are installed"
  elif [ "$(id -u)" -eq 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: engines: installing $need"
    # A failed install is a warning: pnpm start runs without the engines that are missing and says so.
    # shellcheck disable=SC2086 # one word per package
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; }; then
      echo "setup: engines: apt-get failed; pnpm start will run without: $(missing_engines)" >&2
    fi
  else
    why="not root"
    [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1 || why="not Debian"
    echo "setup: engines: $need missing, not installed ($why); pnpm start runs without them. To add them on Debian:" >&2
    echo "  sudo apt-get install -y --no-install-recommends $need     (or: sudo bash scripts/setup.sh)" >&2
  fi
fi

if ! command -v node >/dev/null 2>&1; then
  echo "setup: no 'node' on PATH. Install any Node.js >= 18 (it only bootstraps pnpm; Moat runs on its own Node 24)." >&2
  exit 1
fi
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION with npm"
  npm install --global --no-fund --no-audit "pnpm@$PNPM_VERSION"
fi

# Node 24 comes in as the devDependency "node": "npm:node@24"; every `pnpm run` script finds it
# first in node_modules/.bin, whatever Node the machine itself has.
if $frozen; then pnpm install --frozen-lockfile; else pnpm install; fi

echo "setup: Node for Moat is $(node_modules/.bin/node --version)"
# The admin console's static files (apps/console/dist), which the master serves at /.
pnpm run build
pnpm run typecheck

if $start; then
  exec pnpm start
fi
