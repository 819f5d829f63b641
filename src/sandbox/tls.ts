/**
 * TLS for a sandbox: a CA and one server certificate made per run with `openssl`, and the JVM
 * flags that put NameServers and brokers in enforcing mode with them.
 *
 * RocketMQ reads its TLS settings only from JVM system properties (TlsSystemConfig, read once
 * at class load), plus the Java properties file named by -Dtls.config.file, which may override
 * everything but tls.server.mode and tls.enable. The default file is /etc/rocketmq/tls.properties:
 * a sandbox always names its own file (absent without TLS), so a host's file never leaks in.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SandboxError, SandboxErrorCode } from "./errors.js";
import { propertiesText } from "./jvm.js";
import { runCommand } from "./process.js";

/** PEM files of a sandbox's TLS setup (absolute paths). */
export interface SandboxCertificates {
  /** Self-signed CA certificate: what clients trust. */
  caFile: string;
  /** Server certificate (SAN DNS:localhost, IP:127.0.0.1), signed by the CA. */
  certFile: string;
  /** Its private key, unencrypted PKCS#8 (netty 4.1.65 in 4.9.7 rejects PKCS#1 keys). */
  keyFile: string;
}

/** Name of each JVM's own TLS properties file, in its home directory. */
export const TLS_PROPERTIES_FILE = "tls.properties";

/** Certificates live two days: long enough for any sandbox run, useless if they leak. */
const VALID_DAYS = "2";

/**
 * Makes a fresh CA and server certificate under `dir` (created). Keys never leave it, and the
 * CA key is deleted once the server certificate is signed: nothing else can be signed with it.
 * @throws SandboxError RMQ_SANDBOX_OPENSSL_MISSING / RMQ_SANDBOX_CERT_FAILED.
 */
export async function generateCertificates(dir: string, signal?: AbortSignal): Promise<SandboxCertificates> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, "ca.key.pem");
  const caFile = join(dir, "ca.pem");
  const csr = join(dir, "server.csr");
  const rawKey = join(dir, "server.key.pem");
  const keyFile = join(dir, "server.pk8.pem");
  const certFile = join(dir, "server.pem");
  const ext = join(dir, "server.ext");
  writeFileSync(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  const steps: [string, string[]][] = [
    [
      "make the CA",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        caKey,
        "-out",
        caFile,
        "-days",
        VALID_DAYS,
        "-subj",
        "/CN=rmq-sandbox-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
    ],
    [
      "make the server key and request",
      ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", rawKey, "-out", csr, "-subj", "/CN=localhost"],
    ],
    [
      "sign the server certificate",
      [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        caFile,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-out",
        certFile,
        "-days",
        VALID_DAYS,
        "-extfile",
        ext,
      ],
    ],
    // OpenSSL 3 writes PKCS#8 already, 1.1 writes PKCS#1: convert so either works.
    ["convert the server key to PKCS#8", ["pkcs8", "-topk8", "-nocrypt", "-in", rawKey, "-out", keyFile]],
  ];
  for (const [what, args] of steps) await openssl(what, args, dir, signal);
  for (const f of [caKey, rawKey, csr, ext, join(dir, "ca.srl")]) rmSync(f, { force: true });
  return { caFile, certFile, keyFile };
}

async function openssl(what: string, args: string[], cwd: string, signal?: AbortSignal): Promise<void> {
  let result;
  try {
    result = await runCommand("openssl", args, { cwd, timeoutMs: 30_000, ...(signal ? { signal } : {}) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SandboxError(
        SandboxErrorCode.OPENSSL_MISSING,
        "a TLS sandbox needs openssl on PATH to make its certificates (install openssl, or start without tls)",
        { cause: err },
      );
    }
    throw err;
  }
  if (result.exitCode !== 0) {
    throw new SandboxError(
      SandboxErrorCode.CERT_FAILED,
      `openssl could not ${what} (${result.signal ?? `exit code ${result.exitCode}`}): ${result.stderr.trim()}`,
      { context: { args } },
    );
  }
}

/**
 * TLS system properties of a NameServer or broker JVM whose home is `home`, writing
 * `home`/tls.properties. Without certificates the file is removed and only -Dtls.config.file is
 * returned (pointing at nothing, which RocketMQ treats as "no file"): the server stays in its
 * default permissive mode without picking up a host-wide file.
 *
 * With certificates the server enforces TLS with the sandbox certificate, and every client in
 * the JVM (the broker's to its NameServer) speaks TLS and checks the server against the CA.
 */
export function serverTlsProperties(home: string, certs: SandboxCertificates | undefined): string[] {
  if (certs === undefined) return noTls(home);
  writeTlsFile(home, {
    ...clientTrust(certs.caFile),
    "tls.server.certPath": certs.certFile,
    "tls.server.keyPath": certs.keyFile,
    "tls.server.need.client.auth": "none",
  });
  // tls.server.mode and tls.enable cannot come from the file; they must be flags.
  return [fileFlag(home), "-Dtls.server.mode=enforcing", "-Dtls.enable=true"];
}

/**
 * TLS system properties of a client-only JVM (mqadmin) in `home`: TLS to every server, which
 * must present a certificate of the CA in `caFile`. Without a CA: no TLS, no host file.
 */
export function clientTlsProperties(home: string, caFile: string | undefined): string[] {
  if (caFile === undefined) return noTls(home);
  writeTlsFile(home, clientTrust(caFile));
  return [fileFlag(home), "-Dtls.enable=true"];
}

/**
 * Client side: verify the server against the CA (without tls.client.authServer the client
 * trusts any certificate). tls.test.mode.enable=false, or RocketMQ ignores every path and uses
 * a fresh self-signed certificate (server) or trusts everything (client).
 */
function clientTrust(caFile: string): Record<string, string | boolean> {
  return { "tls.test.mode.enable": false, "tls.client.trustCertPath": caFile, "tls.client.authServer": true };
}

function fileFlag(home: string): string {
  return `-Dtls.config.file=${join(home, TLS_PROPERTIES_FILE)}`;
}

function writeTlsFile(home: string, props: Record<string, string | boolean>): void {
  writeFileSync(join(home, TLS_PROPERTIES_FILE), propertiesText(props));
}

function noTls(home: string): string[] {
  rmSync(join(home, TLS_PROPERTIES_FILE), { force: true });
  return [fileFlag(home)];
}
