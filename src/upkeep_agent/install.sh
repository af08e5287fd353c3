#!/bin/sh
# Installs the Upkeep agent on this machine and connects it to @SERVER@.
# Needs: python3 >= 3.8 and root (curl is used if present). Usage (as root):
#   curl -fsS --cacert cert.pem @SERVER@/agent/install.sh | sh -s -- \
#        --enrollment-token T --subscription-id S --resource-group RG --name NAME [--ca-cert cert.pem] [...]
# Every argument is passed to 'upkeep-agent connect'.
set -eu
SERVER="@SERVER@"
PREFIX=/usr/local/lib/upkeep-agent

python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' || {
  echo "The Upkeep agent needs python3 3.8 or newer." >&2; exit 1; }

CA=""
previous=""
for argument in "$@"; do
  if [ "$previous" = "--ca-cert" ]; then CA="$argument"; fi
  previous="$argument"
done

# download URL FILE: with curl where there is one, else with python3 (minimal images).
download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS ${CA:+--cacert "$CA"} -o "$2" "$1"
  else
    python3 - "$1" "$2" "$CA" <<'PY'
import ssl, sys, urllib.request
url, target, ca = sys.argv[1], sys.argv[2], sys.argv[3] or None
with urllib.request.urlopen(url, context=ssl.create_default_context(cafile=ca)) as answer:
    data = answer.read()
with open(target, "wb") as handle:
    handle.write(data)
PY
  fi
}

mkdir -p "$PREFIX"
download "$SERVER/agent/upkeep-agent.pyz" "$PREFIX/upkeep-agent.pyz.new"
chmod 0755 "$PREFIX/upkeep-agent.pyz.new"
mv "$PREFIX/upkeep-agent.pyz.new" "$PREFIX/upkeep-agent.pyz"

python3 "$PREFIX/upkeep-agent.pyz" connect --server "$SERVER" "$@"

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  python3 - "$PREFIX/upkeep-agent.pyz" > /etc/systemd/system/upkeep-agent.service <<'PY'
import sys, zipfile
print(zipfile.ZipFile(sys.argv[1]).read("upkeep_agent/upkeep-agent.service").decode(), end="")
PY
  systemctl daemon-reload
  systemctl enable --now upkeep-agent.service
  echo "The Upkeep agent is running (systemctl status upkeep-agent)."
else
  echo "No systemd here: start the agent with: python3 $PREFIX/upkeep-agent.pyz run"
fi
