#!/usr/bin/env bash
# Builds Mailpit, the SMTP catcher the end-to-end tests deliver to, once per machine:
#   go install github.com/axllent/mailpit@v1.33.1  (from the Go module proxy; its web UI is not needed, its API is)
# into ${XDG_CACHE_HOME:-~/.cache}/invite-mailer/mailpit-v1.33.1/, and prints the binary's path.
# Idempotent: does nothing when that binary is there. Needs Go (1.24 or later).
set -euo pipefail

version="v1.33.1"
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/invite-mailer/mailpit-${version}"
if [ -x "$bin_dir/mailpit" ]; then echo "$bin_dir/mailpit"; exit 0; fi
if ! command -v go >/dev/null 2>&1; then
  echo "Mailpit is missing and Go is not installed: install Go 1.24 or later (Debian: golang-go), or set MAILPIT_BIN to a Mailpit ${version} binary" >&2
  exit 1
fi
echo "Building Mailpit ${version} (once; about a minute)" >&2
mkdir -p "$bin_dir"
GOBIN="$bin_dir" go install "github.com/axllent/mailpit@${version}" >&2
echo "$bin_dir/mailpit"
