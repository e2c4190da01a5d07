#!/usr/bin/env node
// Drop-in `solc --standard-json` for py-solc-x, backed by the npm `solc` package (emscripten build).
// Why: no native solc is reachable from PyPI/npm/Debian, and `solcjs` is not a drop-in (it prints a
// notice before the JSON and rejects --allow-paths). Imports resolve against the working directory,
// every --allow-paths / --base-path / --include-path directory, the project root and node_modules.
"use strict";
const fs = require("fs");
const path = require("path");

const projectRoot = path.resolve(__dirname, "..");
const args = process.argv.slice(2);

function loadSolc() {
  return require(path.join(projectRoot, "node_modules", "solc"));
}

if (args.includes("--version")) {
  process.stdout.write(
    "solc, the solidity compiler commandline interface\nVersion: " + loadSolc().version() + "\n"
  );
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write("solc-frontend: only --version and --standard-json are supported\n");
  process.exit(2);
}

const roots = [process.cwd()];
for (let i = 0; i < args.length; i++) {
  if (["--allow-paths", "--base-path", "--include-path"].includes(args[i]) && args[i + 1]) {
    for (const p of args[i + 1].split(",")) if (p) roots.push(path.resolve(p));
    i++;
  }
}
roots.push(projectRoot, path.join(projectRoot, "node_modules"));

function findImports(importPath) {
  for (const root of roots) {
    const candidate = path.isAbsolute(importPath) ? importPath : path.join(root, importPath);
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: "File not found: " + importPath + " (searched " + roots.join(", ") + ")" };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(loadSolc().compile(input, { import: findImports }));
