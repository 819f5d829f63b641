/**
 * examples/monitoring/: the Grafana dashboard is importable JSON and the alerting rules are a
 * Prometheus rule file, and every metric either references is one the connector exposes (the
 * names below, which docs/metrics.md documents, plus prom-client's process metrics under our
 * prefix). A renamed metric then fails here instead of leaving an empty panel or a silent alert.
 *
 * (The files live in examples/monitoring/ because examples/*.yaml are connector configs that
 * test/config/fixtures.test.ts validates.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { collectDefaultMetrics, Registry } from "prom-client";
import { parse } from "yaml";
import { repoRoot } from "../../scripts/gen-config-docs.js";

const dir = join(repoRoot(), "examples", "monitoring");

const PER_QUEUE = [
  "replicated_messages_total",
  "replicated_bytes_total",
  "filtered_messages_total",
  "loop_skipped_messages_total",
  "dead_lettered_messages_total",
  "pulls_total",
  "sends_total",
  "send_retries_total",
  "unknown_send_outcomes_total",
  "settled_landed_messages_total",
  "errors_total",
  "lag_messages",
  "lag_seconds",
  "last_sync_timestamp_seconds",
  "last_replicated_source_store_timestamp_seconds",
  "in_flight_messages",
  "in_flight_bytes",
  "commits_total",
  "last_commit_age_seconds",
  "queue_running",
];
const PER_ROUTE = ["route_up", "probe_latency_seconds", "last_probe_age_seconds"];
const HISTOGRAMS = ["replication_latency_seconds"];

/** Every series name the connector exposes, histogram series included. */
function exposedNames(): Set<string> {
  const names = new Set<string>(["rmq_connector_info"]);
  for (const n of [...PER_QUEUE, ...PER_ROUTE]) names.add(`rmq_connector_${n}`);
  for (const n of HISTOGRAMS) {
    for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`rmq_connector_${n}${suffix}`);
  }
  // prom-client's default metrics, under the prefix the connector registers them with.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "rmq_connector_" });
  for (const m of registry.getMetricsAsArray()) {
    const name = m.name;
    names.add(name);
    const type = String(m.type);
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(`${name}${s}`);
  }
  return names;
}

/** The rmq_connector_* names a PromQL expression references. */
const referenced = (expr: string): string[] =>
  [...expr.matchAll(/\brmq_connector_[a-z0-9_]+/g)].map((m) => m[0]);

interface Target {
  expr?: string;
}
interface Panel {
  type: string;
  title: string;
  id: number;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}

describe("examples/monitoring/grafana-dashboard.json", () => {
  const dashboard = JSON.parse(readFileSync(join(dir, "grafana-dashboard.json"), "utf8")) as Dashboard;
  const names = exposedNames();

  it("is a dashboard with a Prometheus datasource variable that every panel uses", () => {
    assert.equal(typeof dashboard.title, "string");
    assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
    assert.ok(dashboard.schemaVersion >= 36);
    const ds = dashboard.templating.list.find((v) => v.type === "datasource");
    assert.deepEqual(ds && { name: ds.name, query: ds.query }, { name: "datasource", query: "prometheus" });
    const ids = new Set<number>();
    for (const p of dashboard.panels) {
      assert.ok(!ids.has(p.id), `duplicate panel id ${p.id}`);
      ids.add(p.id);
      assert.ok(
        p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24,
        `${p.title}: gridPos ${JSON.stringify(p.gridPos)}`,
      );
      if (p.type === "row") continue;
      assert.deepEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, p.title);
      assert.ok((p.targets ?? []).length > 0, `${p.title} has no query`);
    }
  });

  it("shows what the issue asks for: TPS, lag, latency, last sync, probes, errors, in-flight, RSS", () => {
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ""));
    const wants: [string, RegExp][] = [
      ["TPS per route", /rate\(rmq_connector_replicated_messages_total\{/],
      ["lag messages per queue", /^rmq_connector_lag_messages\{/],
      ["lag seconds per queue", /^rmq_connector_lag_seconds\{/],
      ["latency p50", /histogram_quantile\(0\.5, .*rmq_connector_replication_latency_seconds_bucket/],
      ["latency p99", /histogram_quantile\(0\.99, .*rmq_connector_replication_latency_seconds_bucket/],
      ["last sync age", /^time\(\) - rmq_connector_last_sync_timestamp_seconds/],
      ["probe latency", /rmq_connector_probe_latency_seconds/],
      ["last probe age", /rmq_connector_last_probe_age_seconds/],
      ["errors by kind", /sum by \(route, kind\) \(rate\(rmq_connector_errors_total/],
      ["in flight", /rmq_connector_in_flight_messages/],
      ["process RSS", /rmq_connector_process_resident_memory_bytes/],
    ];
    for (const [what, re] of wants)
      assert.ok(
        exprs.some((e) => re.test(e)),
        `no panel for ${what}`,
      );
  });

  it("references only metrics the connector exposes", () => {
    const exprs = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? "")),
      ...dashboard.templating.list.map((v) => JSON.stringify(v.query ?? "")),
    ];
    const used = new Set(exprs.flatMap(referenced));
    assert.ok(used.size >= 20, `only ${used.size} metrics used`);
    for (const name of used) assert.ok(names.has(name), `${name} is not a metric of the connector`);
  });
});

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe("examples/monitoring/prometheus-alerts.yaml", () => {
  const doc = parse(readFileSync(join(dir, "prometheus-alerts.yaml"), "utf8")) as {
    groups: { name: string; rules: Rule[] }[];
  };
  const rules = doc.groups.flatMap((g) => g.rules);
  const names = exposedNames();

  it("is a rule file: groups of named alerts with an expression, severity and summary", () => {
    assert.ok(doc.groups.length > 0);
    const seen = new Set<string>();
    for (const g of doc.groups) assert.equal(typeof g.name, "string");
    for (const r of rules) {
      assert.equal(typeof r.alert, "string", JSON.stringify(r));
      assert.ok(!seen.has(r.alert ?? ""), `duplicate alert ${r.alert}`);
      seen.add(r.alert ?? "");
      assert.equal(typeof r.expr, "string");
      if (r.for !== undefined) assert.match(r.for, /^\d+[smhd]$/);
      assert.match(r.labels?.["severity"] ?? "", /^(critical|warning|info)$/, `${r.alert} severity`);
      assert.ok((r.annotations?.["summary"] ?? "") !== "", `${r.alert} has no summary`);
    }
  });

  it("alerts on what the issue asks: lag growing, last sync too old, probe missing, connector and route down", () => {
    const expr = (alert: string): string => rules.find((r) => r.alert === alert)?.expr ?? "";
    assert.match(expr("RmqConnectorDown"), /up\{[^}]*\} == 0 or absent\(rmq_connector_info\)/);
    assert.match(expr("RmqConnectorRouteDown"), /rmq_connector_route_up == 0/);
    assert.match(expr("RmqConnectorLagGrowing"), /rmq_connector_lag_messages\) > \d+/);
    assert.match(expr("RmqConnectorLagGrowing"), /deriv\(rmq_connector_lag_messages\[10m\]\)\) > 0/);
    assert.match(
      expr("RmqConnectorLastSyncTooOld"),
      /time\(\) - rmq_connector_last_sync_timestamp_seconds\) > \d+/,
    );
    assert.match(expr("RmqConnectorLastSyncTooOld"), /rmq_connector_lag_messages > 0/);
    assert.match(expr("RmqConnectorProbeMissing"), /rmq_connector_last_probe_age_seconds > 30/);
  });

  it("references only metrics the connector exposes", () => {
    const used = new Set(rules.flatMap((r) => referenced(r.expr)));
    assert.ok(used.size >= 8, `only ${used.size} metrics used`);
    for (const name of used) assert.ok(names.has(name), `${name} is not a metric of the connector`);
  });
});
