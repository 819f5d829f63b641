/**
 * The files a config points at: credentials given as `{ file }` (a Kubernetes secret mounted as
 * a file) and TLS PEM files. They are read and checked when the config is loaded, so a missing,
 * empty or malformed file stops the start with its key named, rather than surfacing later as a
 * refused connection. No error text ever carries a file's content.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { tlsOptionsProblem } from "../transport/connection.js";
import type { RawConfig } from "./schema.js";
import type { TlsConfig } from "./types.js";

/** A path into the config (as validate.ts's ConfigPath) and where its problems go. */
type ConfigPath = readonly (string | number)[];
type Report = (path: ConfigPath, message: string) => void;

/** TLS settings as the schema gives them. */
export type WrittenTls = RawCluster["tls"];

type RawCluster = RawConfig["clusters"][string];
type RawSecret = RawCluster["accessKey"];

/** A cluster's credentials and TLS settings with every file read. */
export interface ClusterFiles {
  accessKey?: string;
  secretKey?: string;
  securityToken?: string;
  tls: TlsConfig | false;
}

/**
 * Reads the files of every cluster of a schema-valid config. Relative paths are taken from
 * `baseDir` (the config file's directory). Problems go to `report`; the result then holds
 * nothing for the value at fault, and the caller does not build the config.
 */
export function readClusterFiles(
  raw: Pick<RawConfig, "clusters">,
  baseDir: string,
  report: Report,
): Record<string, ClusterFiles> {
  const out: Record<string, ClusterFiles> = {};
  for (const [name, cluster] of Object.entries(raw.clusters)) {
    const at = (...path: (string | number)[]): ConfigPath => ["clusters", name, ...path];
    const files: ClusterFiles = {
      tls: readTlsFiles(cluster.tls, baseDir, (path, message) => report(at("tls", ...path), message)),
    };
    for (const key of ["accessKey", "secretKey", "securityToken"] as const) {
      const value = readSecret(cluster[key], baseDir, at(key), report);
      if (value !== undefined) files[key] = value;
    }
    out[name] = files;
  }
  return out;
}

/**
 * A secret as written: the value, or `{ file }` read (one line, its trailing line break dropped).
 * Undefined when absent, or when the file is at fault (reported at `path`.file).
 */
export function readSecret(
  secret: RawSecret,
  baseDir: string,
  path: ConfigPath,
  report: Report,
): string | undefined {
  if (secret === undefined || typeof secret === "string") return secret;
  const text = readText(secret.file, baseDir, [...path, "file"], report);
  if (text === undefined) return undefined;
  // `echo secret > file` and most editors end the file with a line break; the secret does not.
  const value = text.replace(/[\r\n]+$/, "");
  if (value === "") {
    report([...path, "file"], `${secret.file} is empty`);
    return undefined;
  }
  if (/[\r\n]/.test(value)) {
    report(
      [...path, "file"],
      `${secret.file} holds more than one line; a credential file holds the value alone`,
    );
    return undefined;
  }
  return value;
}

/**
 * Reads and checks the PEM files of TLS settings as written (`tls: true`, `false` or a mapping).
 * `report` gets paths within the settings (["ca"], ["cert"], ...).
 */
export function readTlsFiles(tls: WrittenTls, baseDir: string, report: Report): TlsConfig | false {
  const at = (key: string): ConfigPath => [key];
  if (tls === false) return false;
  if (tls === true) return { verify: true, files: {} };
  const read = (key: "ca" | "cert" | "key"): { path: string; text: string } | undefined => {
    const file = tls[key];
    if (file === undefined) return undefined;
    const text = readText(file, baseDir, at(key), report);
    return text === undefined ? undefined : { path: absolute(file, baseDir), text };
  };
  const ca = read("ca");
  const cert = read("cert");
  const key = read("key");
  if ((tls.cert === undefined) !== (tls.key === undefined))
    report(
      at(tls.cert === undefined ? "key" : "cert"),
      "tls.cert and tls.key go together: give both or neither",
    );
  if (ca !== undefined) {
    const problem = caProblem(ca.text);
    if (problem !== undefined) report(at("ca"), `${tls.ca}: ${problem}`);
  }
  if (cert !== undefined && key !== undefined) {
    // OpenSSL's reason ("key values mismatch", "no start line") names no byte of the key.
    const problem = tlsOptionsProblem({ cert: cert.text, key: key.text });
    if (problem !== undefined) report(at("cert"), `${tls.cert} with ${tls.key}: ${problem}`);
  }
  const config: TlsConfig = {
    verify: tls.verify,
    files: {
      ...(ca === undefined ? {} : { ca: ca.path }),
      ...(cert === undefined ? {} : { cert: cert.path }),
      ...(key === undefined ? {} : { key: key.path }),
    },
    // Only the certificates: a PEM file may hold the private key too (`cert: client.pem, key:
    // client.pem`), and what is kept here is enumerable.
    ...(ca === undefined ? {} : { ca: certificateBlocks(ca.text) }),
    ...(cert === undefined ? {} : { cert: certificateBlocks(cert.text) }),
    ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }),
  };
  // Not enumerable, like the secret key: a config dumped to a log never shows it.
  if (key !== undefined) Object.defineProperty(config, "key", { value: key.text, enumerable: false });
  return config;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The PEM certificate blocks of `pem`, one per line group; nothing else of the file. */
function certificateBlocks(pem: string): string {
  return (pem.match(CERTIFICATE_BLOCK) ?? []).map((b) => `${b}\n`).join("");
}

/** Why `pem` is not a list of PEM certificates, or undefined. Node would take garbage silently. */
function caProblem(pem: string): string | undefined {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return `certificate ${i + 1} cannot be read: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return undefined;
}

function absolute(file: string, baseDir: string): string {
  return isAbsolute(file) ? file : resolve(baseDir, file);
}

function readText(file: string, baseDir: string, path: ConfigPath, report: Report): string | undefined {
  const full = absolute(file, baseDir);
  try {
    return readFileSync(full, "utf8");
  } catch (err) {
    const code = err instanceof Error && "code" in err ? String(err.code) : "";
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a directory"
            : err instanceof Error
              ? err.message
              : String(err);
    report(path, `cannot read ${full === file ? file : `${file} (${full})`}: ${why}`);
    return undefined;
  }
}
