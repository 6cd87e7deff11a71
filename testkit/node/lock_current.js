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
  const have = packages(path.join(__dirname, "node_modules", ".package-lock.json"));
  for (const [name, p] of Object.entries(want)) {
    if (name === "") continue;
    const h = have[name];
    if (!h) {
      if (p.optional) continue;
      throw new Error(`${name} is not installed`);
    }
    if (h.version !== p.version || h.integrity !== p.integrity) {
      throw new Error(`${name} is ${h.version}, package-lock.json pins ${p.version}`);
    }
  }
} catch (e) {
  console.error(`node_modules stale: ${e.message}`);
  process.exit(1);
}
