#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "chromium is not installed and this user cannot install it: browser tests will be skipped (install: apt-get install chromium)"; exit 0
  fi
fi
echo "installing chromium (Debian package) for the browser tests..."
$SUDO apt-get update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
  || echo "could not install chromium: browser tests will be skipped"
