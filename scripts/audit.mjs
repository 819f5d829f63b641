// CI's check for known vulnerabilities in production dependencies: `npm audit --omit=dev`,
// failing on any advisory at any severity (a replicator's dependencies are few; each advisory
// deserves a look, not a threshold).
//
// When the audit endpoint cannot be asked (offline, a registry mirror or proxy without the
// advisories API: npm then answers e.g. "405 Method Not Allowed - POST .../advisories/bulk"),
// this fails too, saying so: a check that silently passes when it could not run is worse than
// none. RMQ_AUDIT=off skips it deliberately, with a warning, for a CI that knows it is offline.
import { spawnSync } from "node:child_process";

const log = (message) => process.stderr.write(`[audit] ${message}\n`);

if (process.env.RMQ_AUDIT === "off") {
  log("WARNING: RMQ_AUDIT=off: production dependencies NOT checked for known vulnerabilities");
  process.exit(0);
}

const run = spawnSync("npm", ["audit", "--omit=dev", "--json"], { encoding: "utf8", timeout: 120_000 });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  report = undefined;
}
const counts = report?.metadata?.vulnerabilities;
if (run.error || counts === undefined) {
  const why = run.error?.message ?? report?.message ?? (run.stderr.trim() || `exit code ${run.status}`);
  log(`FAILED: the npm audit endpoint could not be asked, so nothing was checked: ${why}`);
  log("Fix the registry access, or set RMQ_AUDIT=off to skip the check knowingly.");
  process.exit(1);
}
const vulnerable = Object.values(report.vulnerabilities ?? {});
if (counts.total > 0) {
  log(`FAILED: ${counts.total} known vulnerabilities in production dependencies:`);
  for (const v of vulnerable)
    log(`  ${v.name} (${v.severity}) ${v.range}${v.fixAvailable ? ", fix available" : ""}`);
  process.exit(1);
}
log(`no known vulnerabilities in ${report.metadata.dependencies?.prod ?? "the"} production dependencies`);
