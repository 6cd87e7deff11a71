// Exits 0 when node_modules holds exactly what package-lock.json pins, 1
// (with the reason on stderr) when it is missing or stale. npm ci records
// what it installed in node_modules/.package-lock.json; optional packages
// for other platforms (esbuild's) are absent from it by design.
// Used by .ci/test-deps; testkit.NodeModules makes the same check in Go.
"use strict";
const fs = require("fs");
const path = require("path");

function packages(file) {
  return JSON.parse(fs.readFileSync(file, "utf8")).packages || {};
}

try {
  const want = packages(path.join(__dirname, "package-lock.json"));
  const installed = path.join(__dirname, "node_modules", ".package-lock.json");
  if (!fs.existsSync(installed)) throw new Error("node_modules is not installed");
  const have = packages(installed);
  for (const [name, p] of Object.entries(want)) {
    if (name === "") continue;
    const h = have[name];
    if (!h) {
      if (p.optional) continue;
      throw new Error(`node_modules is stale: ${name} is not installed`);
    }
    if (h.version !== p.version || h.integrity !== p.integrity) {
      throw new Error(`node_modules is stale: ${name} is ${h.version}, package-lock.json pins ${p.version}`);
    }
  }
} catch (e) {
  console.error(`testkit/node: ${e.message}`);
  process.exit(1);
}
