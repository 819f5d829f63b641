/**
 * Command lines and config files for NameServer and Broker JVMs sized for a small (2-core) box.
 * Everything a process writes lives under its own directory: user.home (5.x logback writes
 * ${user.home}/logs/rocketmqlogs, the NameServer its kvConfig.json), ROCKETMQ_HOME (4.9.x reads
 * conf/logback_*.xml from it), java.io.tmpdir (native libraries extracted by netty/rocksdb), store.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Distribution } from "./distribution.js";

export const NAMESRV_MAIN = "org.apache.rocketmq.namesrv.NamesrvStartup";
export const BROKER_MAIN = "org.apache.rocketmq.broker.BrokerStartup";
export const MQADMIN_MAIN = "org.apache.rocketmq.tools.command.MQAdminStartup";

/**
 * JDK 17 module flags. Both lines need java.nio/sun.nio.ch for mapped-file and direct-buffer
 * access; 4.9.x additionally frees mapped buffers through jdk.internal.ref.Cleaner, which throws
 * IllegalAccessError on JDK >= 11 without the export (apache/rocketmq#3321). 5.4+/5.5 touch
 * java.lang reflectively (controller code paths, #10170).
 */
export function moduleFlags(major: number): string[] {
  const common = [
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
  ];
  return major >= 5
    ? common
    : [
        ...common,
        "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
      ];
}

export type Role = "namesrv" | "broker" | "mqadmin";

/**
 * Heap and GC per role. SerialGC: on 2 cores with four JVMs, parallel/G1 worker threads only
 * compete with each other; heaps this small collect in milliseconds anyway. -XX:-UsePerfData
 * keeps JVMs from leaving /tmp/hsperfdata_* files behind when killed.
 */
export function memoryFlags(role: Role): string[] {
  const common = ["-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:+ExitOnOutOfMemoryError", "-Xss512k"];
  switch (role) {
    case "namesrv":
      return ["-Xms64m", "-Xmx128m", "-XX:MaxDirectMemorySize=64m", ...common];
    case "broker":
      return ["-Xms128m", "-Xmx384m", "-XX:MaxDirectMemorySize=256m", ...common];
    case "mqadmin":
      // A short-lived tool: C1 only starts faster and it never runs long enough for C2 to pay off.
      return ["-Xms32m", "-Xmx128m", "-XX:TieredStopAtLevel=1", ...common];
  }
}

/**
 * Full java argv (after the executable) for a role, its home dir and main-class arguments;
 * `systemProperties` ("-Dkey=value", e.g. the TLS ones) go before the user's RMQ_SANDBOX_JVM_OPTS.
 */
export function javaArgs(
  dist: Distribution,
  role: Role,
  home: string,
  mainArgs: readonly string[],
  systemProperties: readonly string[] = [],
): string[] {
  const main = role === "namesrv" ? NAMESRV_MAIN : role === "broker" ? BROKER_MAIN : MQADMIN_MAIN;
  // Env RMQ_SANDBOX_JVM_OPTS is appended after our flags, so it wins where flags repeat (e.g.
  // "-Xmx1g", or "-XX:-UseSerialGC -XX:+UseG1GC" to compare collectors).
  const extra = (process.env["RMQ_SANDBOX_JVM_OPTS"] ?? "").split(/\s+/).filter((a) => a.length > 0);
  return [
    ...memoryFlags(role),
    ...moduleFlags(dist.major),
    ...systemProperties,
    ...extra,
    `-Duser.home=${home}`,
    `-Drocketmq.home.dir=${home}`,
    `-Djava.io.tmpdir=${join(home, "tmp")}`,
    // Above 90 % partition usage the store refuses writes (code 14); CI disks are often fuller.
    "-Drocketmq.broker.diskSpaceWarningLevelRatio=0.98",
    "-Drocketmq.broker.diskSpaceCleanForciblyRatio=0.97",
    // 5.x's shaded logback dumps its whole configuration status to stdout when the bundled
    // config has a warning (it does); that would bury the boot line and mqadmin's output.
    ...(dist.major >= 5
      ? [
          "-Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener",
        ]
      : []),
    // Never ask the address server (jmenv.tbsite.net) for NameServers.
    "-Drocketmq.namesrv.domain=127.0.0.1",
    "-cp",
    dist.classpath,
    main,
    ...mainArgs,
  ];
}

/** Environment of a RocketMQ JVM: ROCKETMQ_HOME is mandatory for both startups. */
export function javaEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ROCKETMQ_HOME: home };
  // Inherited settings would override ours (JAVA_TOOL_OPTIONS is read by every JVM).
  delete env["JAVA_TOOL_OPTIONS"];
  delete env["NAMESRV_ADDR"];
  return env;
}

/** Creates `home` with what a RocketMQ process of this version expects in it. */
export function prepareHome(dist: Distribution, home: string): void {
  mkdirSync(join(home, "tmp"), { recursive: true });
  mkdirSync(join(home, "conf"), { recursive: true });
  if (dist.major < 5) {
    // 4.9.x BrokerStartup/NamesrvStartup configure logback from these files and fail without them.
    writeFileSync(join(home, "conf", "logback_broker.xml"), logback4("broker"));
    writeFileSync(join(home, "conf", "logback_namesrv.xml"), logback4("namesrv"));
    writeFileSync(join(home, "conf", "logback_tools.xml"), logback4("tools"));
  }
}

function logback4(name: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Minimal logging for a sandbox RocketMQ 4.9.x process: everything to one file in its home. -->
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>\${user.home}/logs/rocketmqlogs/${name}.log</file>
    <encoder><pattern>%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %c{0} - %m%n</pattern></encoder>
  </appender>
  <logger name="RocketmqConsole" additivity="false" level="INFO"><appender-ref ref="FILE"/></logger>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
`;
}

/** Java properties file text (keys and values are plain: no escaping needed for ours). */
export function propertiesText(props: Record<string, string | number | boolean>): string {
  return Object.entries(props)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join("\n")
    .concat("\n");
}

export function namesrvProperties(port: number): Record<string, string | number | boolean> {
  return { listenPort: port };
}

export interface BrokerSettings {
  clusterName: string;
  brokerName: string;
  namesrv: string;
  listenPort: number;
  storeDir: string;
}

/** Broker config for a small local cluster; keys are BrokerConfig/MessageStoreConfig fields. */
export function brokerProperties(
  dist: Distribution,
  s: BrokerSettings,
): Record<string, string | number | boolean> {
  const props: Record<string, string | number | boolean> = {
    brokerClusterName: s.clusterName,
    brokerName: s.brokerName,
    brokerId: 0,
    brokerRole: "ASYNC_MASTER",
    flushDiskType: "ASYNC_FLUSH",
    namesrvAddr: s.namesrv,
    // The address registered in routes; the default is the first non-loopback interface.
    brokerIP1: "127.0.0.1",
    listenPort: s.listenPort,
    haListenPort: s.listenPort + 1,
    storePathRootDir: s.storeDir,
    storePathCommitLog: join(s.storeDir, "commitlog"),
    // 64 MiB commit-log files instead of 1 GiB; consume queue 100 000 entries x 20 B; tiny index.
    mappedFileSizeCommitLog: 64 * 1024 * 1024,
    mappedFileSizeConsumeQueue: 100_000 * 20,
    maxIndexNum: 10_000,
    maxHashSlotNum: 4_000,
    autoCreateTopicEnable: true,
    autoCreateSubscriptionGroup: true,
    // 2 cores shared by four JVMs and the tests: the default 200 ms queue wait gives
    // SYSTEM_BUSY [TIMEOUT_CLEAN_QUEUE] under load.
    waitTimeMillsInSendQueue: 3000,
    osPageCacheBusyTimeOutMills: 3000,
    diskMaxUsedSpaceRatio: 95,
    sendMessageThreadPoolNums: 2,
    pullMessageThreadPoolNums: 4,
    queryMessageThreadPoolNums: 2,
    adminBrokerThreadPoolNums: 2,
    clientManageThreadPoolNums: 2,
    consumerManageThreadPoolNums: 2,
    heartbeatThreadPoolNums: 1,
    endTransactionThreadPoolNums: 2,
    deleteWhen: "04",
    fileReservedTime: 1,
  };
  if (dist.major >= 5) {
    // Timer messages (TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS) need the timer wheel:
    // without it a 5.x broker refuses them ("accurate timer message is not enabled"), and the
    // tests check that replication does not re-arm them. The wheel itself is a fixed 7 days of
    // slots (~39 MB mapped, read whole into as much direct memory, within MaxDirectMemorySize:
    // an idle 5.5.0 broker's RSS went from ~220 MB to ~325 MB, on a sparse file); the timer log
    // is cut from 100 MiB files to 4 MiB ones, and delivery runs one thread that reads due
    // messages and one that writes them instead of three each. timerPrecisionMs stays 1 s
    // (delivery up to 1 s after the time, never before): finer precision makes the idle
    // dequeue loop wake 10x as often (every 10 ms) on a machine shared by four JVMs.
    props["timerWheelEnable"] = true;
    props["mappedFileSizeTimerLog"] = 4 * 1024 * 1024;
    props["timerGetMessageThreadNum"] = 1;
    props["timerPutMessageThreadNum"] = 1;
    // A daily metrics scan of the timer log (at 05:00); nothing here reads those metrics.
    props["timerEnableCheckMetrics"] = false;
    props["diskSpaceWarningLevelRatio"] = 98;
    props["diskSpaceCleanForciblyRatio"] = 97;
    props["enableControllerMode"] = false;
  }
  return props;
}
