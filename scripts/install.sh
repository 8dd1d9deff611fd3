#!/usr/bin/env bash
# One command from a fresh clone to a running host: OS packages, npm packages, $CORRAL_HOME, an agent, corral up.
# Interactive only: in CI, under a test, or with CORRAL_INSTALL_NO_UP=1 it stops before starting the host.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'corral install: %s\n' "$*" >&2; exit 1; }

# --- Node ---------------------------------------------------------------------------------------------
command -v node >/dev/null || die "Node.js 20 or newer is required: https://nodejs.org (or: apt-get install nodejs npm)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || die "Node.js $(node --version) is too old; corral needs 20 or newer"

# --- OS packages the default sandbox backend needs -----------------------------------------------------
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
# the Debian base image every sandbox starts from is built with mmdebstrap
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
for tool in setpriv unshare prlimit; do command -v "$tool" >/dev/null || { missing+=(util-linux); break; }; done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    say "installing ${missing[*]} (sudo)"
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "missing ${missing[*]}; install with:  sudo apt-get install -y ${missing[*]}  and run this again"
  fi
fi

# --- npm packages --------------------------------------------------------------------------------------
say "installing npm packages (better-sqlite3 compiles from source: a minute or two)"
npm ci --no-audit --no-fund --loglevel=error

corral() { node bin/corral.js "$@"; }

# --- corral home, a default agent ----------------------------------------------------------------------
corral init
corral agent show assistant >/dev/null 2>&1 || corral agent add assistant
say "building the base image (Debian bookworm + Node; about a minute the first time, then cached)"
corral image build >/dev/null || die "the base image did not build; the line above says why"
corral doctor || die "corral doctor found a problem above; fix it and run this again"

# --- a key, then a first conversation ------------------------------------------------------------------
if ! corral secret list --json | grep -q '"ANTHROPIC_API_KEY"'; then
  if [ -t 0 ]; then
    read -r -s -p "Anthropic API key (input hidden; empty to skip): " key; echo >&2
    if [ -n "$key" ]; then printf %s "$key" | corral secret set ANTHROPIC_API_KEY; fi
    unset key
  fi
fi
if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ] && [ -z "${CORRAL_INSTALL_NO_UP:-}" ]; then
  corral secret list --json | grep -q '"ANTHROPIC_API_KEY"' ||
    say "no Anthropic key yet: messages will fail until you run: printf %s \"\$KEY\" | npx corral secret set ANTHROPIC_API_KEY"
  say "starting corral up (Ctrl-C stops it). Talk to the 'assistant' agent from another terminal:"
  printf '  curl -H "Authorization: Bearer $(cat %s/api-token)" -H "content-type: application/json" \\\n    -d %s http://127.0.0.1:7070/v1/agents/assistant/messages\n  npx corral logs -f\n' \
    "${CORRAL_HOME:-$HOME/.corral}" "'{\"text\":\"hello\"}'" >&2
  exec node bin/corral.js up
fi
say "ready. Next: printf %s \"\$KEY\" | npx corral secret set ANTHROPIC_API_KEY && npx corral up"
