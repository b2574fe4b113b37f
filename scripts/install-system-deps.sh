#!/usr/bin/env bash
# Debian packages the tests and training need beyond Python: Chromium for the browser test, Korean
# fonts for the synthetic plates and the event photo. Idempotent; a no-op when all are present.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -d /usr/share/fonts/truetype/nanum ] || need+=(fonts-nanum)
# Training (`--training`) also draws glyphs the plate assets lack from Noto CJK.
if [ "${1:-}" = "--training" ] && [ ! -d /usr/share/fonts/opentype/noto ]; then
  need+=(fonts-noto-cjk)
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "WARNING: cannot install ${need[*]} (needs root and apt-get); the browser test will skip" >&2
  exit 0
fi
echo "installing ${need[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
