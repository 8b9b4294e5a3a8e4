#!/usr/bin/env bash
# Set up Moat on a fresh machine: pnpm (if missing), the project-local Node 24 and every
# dependency, the console build, then a typecheck. With --start, run the local cluster afterwards.
#   bash scripts/setup.sh --start     set up and start (the README's first command)
#   bash scripts/setup.sh --frozen    set up exactly as locked (what CI does)
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.21.0
start=false
frozen=false
for arg in "$@"; do
  case "$arg" in
    --start) start=true ;;
    --frozen) frozen=true ;;
    *) echo "setup: unknown option $arg (use --start and/or --frozen)" >&2; exit 2 ;;
  esac
done

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
