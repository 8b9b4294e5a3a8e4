#!/bin/sh
# clamd needs signatures to start: the first start downloads them (about 200 MB), then
# freshclam keeps them fresh in the background (it tells clamd to reload) and clamd runs in
# the foreground. Until clamd answers, the scanners answer 451 (analyzers.clamav.onUnavailable
# temp-fail) and senders retry.
set -eu
if ! ls /var/lib/clamav/daily.c?d /var/lib/clamav/main.c?d >/dev/null 2>&1; then
  echo "clamd-start: no signatures yet, running freshclam once"
  freshclam --stdout --foreground
fi
freshclam --daemon --stdout --checks=12 --daemon-notify=/etc/clamav/clamd.conf
exec clamd --foreground --config-file=/etc/clamav/clamd.conf
