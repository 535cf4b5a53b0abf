# Makes `node` Node.js 24 LTS in the current shell; source it: `. scripts/use-node-24.sh` (.ci/run does).
# If the node on PATH is older, Node 24 comes from the npm registry (the node-linux-<arch> package holds
# bin/node and the headers, no npm) into a cache directory outside the repository, re-fetched whenever
# it is missing or broken, and goes first on PATH. npm_config_nodedir then points at the headers of the
# node that runs, so native addons (better-sqlite3) are built for it, whatever a global npmrc says.

latchkey_node_major() {
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [ "$(latchkey_node_major)" -lt 24 ]; then
  case "$(uname -m)" in
    x86_64) latchkey_arch=x64 ;;
    aarch64 | arm64) latchkey_arch=arm64 ;;
    *) echo "use-node-24: no Node.js 24 package for $(uname -m); install Node.js 24 by hand" >&2; return 1 ;;
  esac
  latchkey_node_home="${LATCHKEY_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/latchkey}/node-24-linux-$latchkey_arch"
  latchkey_node_bin="$latchkey_node_home/node_modules/node-linux-$latchkey_arch/bin"
  if [ "$("$latchkey_node_bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != 24 ]; then
    echo "use-node-24: $(node --version 2>/dev/null || echo 'no node') on PATH; fetching node-linux-$latchkey_arch@24" \
      "into $latchkey_node_home"
    rm -rf "$latchkey_node_home" && mkdir -p "$latchkey_node_home" || return 1
    npm install --prefix "$latchkey_node_home" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-$latchkey_arch@24" || return 1
  fi
  export PATH="$latchkey_node_bin:$PATH"
  hash -r
fi

# Node 24 ships npm 11; an older npm (npm 10 ignores allowScripts) gets npm 11 beside the cached node.
if [ "$(npm --version 2>/dev/null | cut -d. -f1)" -lt 11 ] 2>/dev/null; then
  latchkey_npm_home="${LATCHKEY_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/latchkey}/npm-11"
  if [ ! -x "$latchkey_npm_home/node_modules/.bin/npm" ]; then
    rm -rf "$latchkey_npm_home" && mkdir -p "$latchkey_npm_home" || return 1
    npm install --prefix "$latchkey_npm_home" --no-save --no-package-lock --no-audit --no-fund --loglevel=error npm@11 || return 1
  fi
  export PATH="$latchkey_npm_home/node_modules/.bin:$PATH"
  hash -r
fi

latchkey_node_dir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
if grep -q "define NODE_MAJOR_VERSION $(latchkey_node_major)\$" "$latchkey_node_dir/include/node/node_version.h" 2>/dev/null; then
  export npm_config_nodedir="$latchkey_node_dir"
else
  echo "use-node-24: no headers for $(node --version) under $latchkey_node_dir/include/node; native addons may not build" >&2
fi
echo "use-node-24: node $(node --version) at $(command -v node), npm $(npm --version), npm_config_nodedir=${npm_config_nodedir:-unset}"
unset latchkey_arch latchkey_node_home latchkey_node_bin latchkey_npm_home latchkey_node_dir
unset -f latchkey_node_major
