/** The machine a benchmark ran on, printed with every result so figures are never read bare. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem, type as osType } from "node:os";

export interface MachineDescription {
  cpuModel: string;
  /** Logical CPUs visible to this process. */
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  java: string;
  rocketmq: string;
}

/** Describes this machine; `java` is the executable the bench runs, `rocketmq` the broker version. */
export function describeMachine(java: string, rocketmq: string): MachineDescription {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() || cpuModelFromProc() || "unknown",
    cores: list.length,
    memoryGiB: totalmem() / 1024 ** 3,
    os: `${osType()} ${release()}`,
    node: process.version,
    java: javaVersion(java),
    rocketmq,
  };
}

/** Two sandbox clusters sharing the cores with what is measured: the replication benches' setup. */
export const TWO_CLUSTERS =
  "two local clusters, each one NameServer + one broker, on the same cores as the connector";

/** The machine, for a report's header; `setup` says where RocketMQ runs. */
export function formatMachine(
  m: MachineDescription,
  setup = "broker and Java client, one local NameServer + broker",
): string {
  return [
    `CPU:      ${m.cpuModel}, ${m.cores} logical cores`,
    `Memory:   ${m.memoryGiB.toFixed(1)} GiB`,
    `OS:       ${m.os}`,
    `Node:     ${m.node}`,
    `Java:     ${m.java}`,
    `RocketMQ: ${m.rocketmq} (${setup})`,
  ].join("\n");
}

function cpuModelFromProc(): string | undefined {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    return line?.split(":")[1]?.trim();
  } catch {
    return undefined;
  }
}

/** First line of `java -version` (printed on stderr), e.g. `openjdk version "17.0.15" 2025-04-15`. */
function javaVersion(java: string): string {
  const run = spawnSync(java, ["-version"], { encoding: "utf8", timeout: 30_000 });
  if (run.error) return `unavailable (${run.error.message})`;
  const text = `${run.stderr}\n${run.stdout}`.trim();
  return text.split("\n")[0]?.trim() || "unknown";
}
