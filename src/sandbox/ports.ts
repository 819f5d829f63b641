/**
 * Free loopback ports for the sandbox's JVMs, chosen without opening sockets (only src/transport
 * may do that). We read the kernel's socket tables (/proc/net/tcp, tcp6) for ports in use and
 * pick random candidates outside the ephemeral range, so outgoing connections' source ports never
 * steal them. A bind-and-release probe would not be safer anyway: the port is free only until the
 * JVM binds it seconds later. The JVM is the final arbiter; the caller retries with new ports when
 * a process reports "Address already in use".
 *
 * A broker binds three ports: listenPort, listenPort-2 (the "fast"/VIP remoting server) and
 * listenPort+1 (HA), so a broker port is only handed out when all three are free.
 */
import { readFileSync } from "node:fs";

/** Ports handed out by this process and not yet released: concurrent clusters never collide. */
const reserved = new Set<number>();

const LOW = 10_000;

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo !== undefined && hi !== undefined && Number.isFinite(lo) && Number.isFinite(hi)) return [lo, hi];
  } catch {
    // Not Linux: assume the IANA range.
  }
  return [49_152, 65_535];
}

/** Local ports of every TCP socket in the kernel tables (listening or connected), when readable. */
export function portsInUse(): Set<number> {
  const used = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // "  0: 0100007F:4E23 00000000:0000 0A ..." — local address is the second column.
      const local = line.trim().split(/\s+/)[1];
      const hex = local?.split(":").pop();
      if (hex) used.add(Number.parseInt(hex, 16));
    }
  }
  return used;
}

/**
 * Picks `count` consecutive-offset ports: returns a base p such that p+o is free for every o in
 * `offsets`, and reserves them all. Throws when nothing free is found after many tries.
 */
export function allocatePorts(offsets: readonly number[]): number {
  const [ephLo, ephHi] = ephemeralRange();
  const used = portsInUse();
  const minOffset = Math.min(...offsets);
  const maxOffset = Math.max(...offsets);
  for (let attempt = 0; attempt < 500; attempt++) {
    // Below the ephemeral range when it starts high enough (Linux: 32768), else above it.
    const [lo, hi] = ephLo - LOW > 2_000 ? [LOW, ephLo - 1] : [ephHi + 1, 65_535];
    const base = lo - minOffset + Math.floor(Math.random() * (hi - lo - (maxOffset - minOffset)));
    const ports = offsets.map((o) => base + o);
    if (ports.some((p) => p < lo || p > hi || used.has(p) || reserved.has(p))) continue;
    for (const p of ports) reserved.add(p);
    return base;
  }
  throw new Error(`no free loopback ports found for offsets ${offsets.join(",")}`);
}

/** Offsets from a broker's listenPort of every port the broker binds. */
export const BROKER_PORT_OFFSETS = [-2, 0, 1] as const;

/** A free NameServer port, reserved until released. */
export function allocateNamesrvPort(): number {
  return allocatePorts([0]);
}

/** A broker listenPort whose fast (-2) and HA (+1) ports are free too; reserved until released. */
export function allocateBrokerPort(): number {
  return allocatePorts(BROKER_PORT_OFFSETS);
}

/** Returns ports to the pool (after their process stopped for good). */
export function releasePorts(ports: Iterable<number>): void {
  for (const p of ports) reserved.delete(p);
}
