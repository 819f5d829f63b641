/**
 * NameServer requests and bodies.
 *
 * GET_ROUTEINFO_BY_TOPIC (105), GetRouteInfoRequestHeader: topic*, acceptStandardJsonOnly.
 *   Response body TopicRouteData (remoting/protocol/route/TopicRouteData.java):
 *   {queueDatas:[{brokerName, readQueueNums, writeQueueNums, perm, topicSysFlag}],
 *    brokerDatas:[{cluster, brokerName, brokerAddrs:{brokerId: "ip:port"}}], ...}
 * GET_BROKER_CLUSTER_INFO (106): no header. Body ClusterInfo (fastjson, unquoted numeric keys):
 *   {brokerAddrTable:{brokerName: BrokerData}, clusterAddrTable:{cluster: [brokerName]}}
 * GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) / GET_TOPICS_BY_CLUSTER (224, header `cluster`):
 *   body TopicList {topicList:[...], brokerAddr?}
 */
import { ProtocolError } from "../errors.js";
import { parseTolerantJson, type JsonValue } from "../tolerant-json.js";

export interface GetRouteInfoRequestHeader {
  topic: string;
  /** 4.9.4+: answer in standard JSON even for old client versions. */
  acceptStandardJsonOnly?: boolean;
}

export interface GetTopicsByClusterRequestHeader {
  cluster: string;
}

/** Broker id of a master (MixAll.MASTER_ID). */
export const MASTER_ID = 0;

export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}

export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** brokerId -> "ip:port"; id 0 is the master. */
  brokerAddrs: Map<number, string>;
}

export interface TopicRouteData {
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
}

export interface ClusterInfo {
  brokers: BrokerData[];
  /** cluster name -> broker names */
  clusters: Map<string, string[]>;
}

type JsonObject = { [key: string]: JsonValue };

function obj(v: JsonValue | undefined, what: string): JsonObject {
  if (v === null || v === undefined || typeof v !== "object" || Array.isArray(v)) {
    throw new ProtocolError(`${what} is not a JSON object`);
  }
  return v;
}
function arr(v: JsonValue | undefined, what: string): JsonValue[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ProtocolError(`${what} is not a JSON array`);
  return v;
}
function str(v: JsonValue | undefined, what: string): string {
  if (typeof v !== "string") throw new ProtocolError(`${what} is not a string`);
  return v;
}
function num(v: JsonValue | undefined, what: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number") throw new ProtocolError(`${what} is not a number`);
  return v;
}

function parseBody(body: Buffer | undefined, what: string): JsonValue {
  if (!body || body.length === 0) throw new ProtocolError(`${what}: empty body`);
  return parseTolerantJson(body.toString("utf8"));
}

function decodeBrokerData(v: JsonValue | undefined, what: string): BrokerData {
  const o = obj(v, what);
  const addrs = new Map<number, string>();
  const table = o["brokerAddrs"];
  if (table !== undefined && table !== null) {
    for (const [id, addr] of Object.entries(obj(table, `${what}.brokerAddrs`))) {
      addrs.set(Number(id), str(addr, `${what}.brokerAddrs.${id}`));
    }
  }
  return {
    cluster: str(o["cluster"], `${what}.cluster`),
    brokerName: str(o["brokerName"], `${what}.brokerName`),
    brokerAddrs: addrs,
  };
}

/** Decodes a TopicRouteData body. Throws ProtocolError. */
export function decodeTopicRouteData(body: Buffer | undefined): TopicRouteData {
  const o = obj(parseBody(body, "TopicRouteData"), "TopicRouteData");
  return {
    queueDatas: arr(o["queueDatas"], "queueDatas").map((q, i) => {
      const qo = obj(q, `queueDatas[${i}]`);
      return {
        brokerName: str(qo["brokerName"], `queueDatas[${i}].brokerName`),
        readQueueNums: num(qo["readQueueNums"], `queueDatas[${i}].readQueueNums`),
        writeQueueNums: num(qo["writeQueueNums"], `queueDatas[${i}].writeQueueNums`),
        perm: num(qo["perm"], `queueDatas[${i}].perm`),
        topicSysFlag: num(qo["topicSysFlag"], `queueDatas[${i}].topicSysFlag`, 0),
      };
    }),
    brokerDatas: arr(o["brokerDatas"], "brokerDatas").map((b, i) => decodeBrokerData(b, `brokerDatas[${i}]`)),
  };
}

/** Decodes a ClusterInfo body (fastjson, unquoted keys). Throws ProtocolError. */
export function decodeClusterInfo(body: Buffer | undefined): ClusterInfo {
  const o = obj(parseBody(body, "ClusterInfo"), "ClusterInfo");
  const brokers: BrokerData[] = [];
  const table = o["brokerAddrTable"];
  if (table !== undefined && table !== null) {
    for (const [name, data] of Object.entries(obj(table, "brokerAddrTable"))) {
      brokers.push(decodeBrokerData(data, `brokerAddrTable.${name}`));
    }
  }
  const clusters = new Map<string, string[]>();
  const ct = o["clusterAddrTable"];
  if (ct !== undefined && ct !== null) {
    for (const [cluster, names] of Object.entries(obj(ct, "clusterAddrTable"))) {
      clusters.set(
        cluster,
        arr(names, `clusterAddrTable.${cluster}`).map((n, i) => str(n, `clusterAddrTable.${cluster}[${i}]`)),
      );
    }
  }
  return { brokers, clusters };
}

/** Decodes a TopicList body to its topic names. Throws ProtocolError. */
export function decodeTopicList(body: Buffer | undefined): string[] {
  const o = obj(parseBody(body, "TopicList"), "TopicList");
  return arr(o["topicList"], "topicList").map((t, i) => str(t, `topicList[${i}]`));
}
