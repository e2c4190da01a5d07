#!/usr/bin/env bash
# Idempotent install of everything the project needs, from PyPI and the npm registry only:
#   node_modules/  solc (npm), OpenZeppelin 5.4.0, anvil, ganache, axe-core (the browser tests' accessibility check; package-lock.json)
#   .venv/         brownie and the off-chain package                 (requirements.lock)
#   .solcx/        the py-solc-x shim that runs npm solc             (tools/install-solc.sh)
# and registers the project's networks with brownie (config/networks.yaml). Each step is
# skipped when the file it depends on has not changed since it last ran.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
venv=$root/.venv
stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. node side
want=$(stamp package-lock.json)
if [ "$(cat node_modules/.stamp 2>/dev/null)" != "$want" ]; then
  say "npm install (solc, OpenZeppelin, anvil, ganache; versions from package-lock.json)"
  # not `npm ci`: the lock holds only this platform's optional anvil binary, which ci rejects
  npm install --no-audit --no-fund --loglevel=error --fetch-timeout=60000 --fetch-retries=5 \
    --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=20000
  echo "$want" > node_modules/.stamp
fi

# 2. python side
want=$(stamp requirements.lock pyproject.toml)
if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$want" ]; then
  [ -x "$venv/bin/python" ] || { say "virtualenv $venv"; "$PYTHON" -m venv "$venv"; }
  say "pip install -r requirements.lock"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -r requirements.lock
  "$venv/bin/python" -m pip install -q --no-deps -e .
  # brownie 1.22.2 ships mypyc-compiled modules beside their pure-Python sources; the compiled
  # stateful.py and coverage.py fail (`_BrownieStateMachine object expected`, `dict object
  # expected; got list`). Removing the compiled copies makes Python import the sources.
  # tests/offchain/test_toolchain.py proves brownie runs from source.
  find "$venv"/lib/python3*/site-packages/brownie -name '*.cpython-*.so' -delete
  rm -f "$venv"/lib/python3*/site-packages/eth_brownie__mypyc*.so
  echo "$want" > "$venv/.stamp"
fi

# 3. compiler shim and environment: every python in .venv (brownie, pytest, console) finds
#    the local compiler and node_modules/.bin (anvil, ganache) without any shell setup.
tools/install-solc.sh "$root/.solcx" > /dev/null
site=$(echo "$venv"/lib/python3*/site-packages)
# written aside and moved into place: a python starting meanwhile never reads a half-written file
pth=$(mktemp "$site/.toolchain.XXXXXX")
cat > "$pth" <<PTH
import os; os.environ.setdefault("SOLCX_BINARY_PATH", "$root/.solcx"); os.environ["PATH"] = "$root/node_modules/.bin" + os.pathsep + os.environ.get("PATH", "") if "$root/node_modules/.bin" not in os.environ.get("PATH", "") else os.environ["PATH"]
PTH
mv -f "$pth" "$site/consortium_toolchain.pth"

# 3b. Slither's own venv, only when asked (`tools/setup.sh slither`)
if [ "${1:-}" = "slither" ]; then
  want=$(stamp requirements-slither.lock)
  if [ "$(cat "$root/.venv-slither/.stamp" 2>/dev/null)" != "$want" ]; then
    say "virtualenv .venv-slither (slither-analyzer, requirements-slither.lock)"
    [ -x "$root/.venv-slither/bin/python" ] || "$PYTHON" -m venv "$root/.venv-slither"
    "$root/.venv-slither/bin/python" -m pip install -q --upgrade pip
    "$root/.venv-slither/bin/python" -m pip install -q -r requirements-slither.lock
    echo "$want" > "$root/.venv-slither/.stamp"
  fi
fi

# 4. networks (brownie keeps them in ~/.brownie/network-config.yaml)
want=$(stamp config/networks.yaml)
if [ "$(cat "$HOME/.brownie/.consortium-networks" 2>/dev/null)" != "$want" ] \
   || ! grep -q "ganache-local" "$HOME/.brownie/network-config.yaml" 2>/dev/null; then
  say "brownie networks import config/networks.yaml"
  "$venv/bin/brownie" networks import config/networks.yaml True > /dev/null
  echo "$want" > "$HOME/.brownie/.consortium-networks"
fi

# 5. contracts, compiled once here (brownie recompiles only changed sources): runs started side by
#    side afterwards (CI tests both chains at once) find build/ current and never write it together
#    (skipped, like the steps above, while the sources and the compiler are what it last compiled)
want=$(stamp $(find contracts interfaces -name '*.sol' | sort) brownie-config.yaml package-lock.json)
if [ "$(cat "$root/build/.stamp" 2>/dev/null)" != "$want" ]; then
  mkdir -p "$root/build"
  "$venv/bin/brownie" compile > "$root/build/.compile.log" 2>&1 || { cat "$root/build/.compile.log"; exit 1; }
  echo "$want" > "$root/build/.stamp"
fi
