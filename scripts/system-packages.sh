#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real, if any is missing:
#   spamassassin  – the spam check Mailpit runs, scoring our messages
#   chromium      – the headless browser the preview tests open
#   redis-server  – the Redis the BullMQ outbox tests start
#   systemd-analyze – checks deploy/invite-mailer.service as systemd reads it
#   python3-prometheus-client – Prometheus' own Python client, whose parser reads /metrics in the tests
# Idempotent: does nothing when every command is there. Needs root (or sudo) and apt-get.
set -euo pipefail

declare -A package_of=( [spamassassin]=spamassassin [chromium]=chromium [redis-server]=redis-server [systemd-analyze]=systemd )
missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
done
# Debian's Python (not another one first on PATH) with the module
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || missing+=(python3-prometheus-client)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "Missing Debian packages: ${missing[*]}. Install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing packages: ${missing[*]} (no apt-get here: install them with your system's package manager)" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
