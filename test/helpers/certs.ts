/**
 * Throwaway PKI for tests: a CA and a certificate it signed for localhost / 127.0.0.1, made with
 * openssl in a temporary directory (no key is ever committed).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A second CA that signed nothing here: trusting it alone must fail verification. */
  otherCaFile: string;
  ca: string;
  cert: string;
  key: string;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** Makes the files; `names` go into the certificate's subjectAltName. */
export function makeTestCertificates(names = "DNS:localhost,IP:127.0.0.1"): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "rmq-test-certs-"));
  for (const ca of ["ca", "other-ca"]) {
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        `/CN=${ca}`,
        "-keyout",
        `${ca}.key`,
        "-out",
        `${ca}.pem`,
      ],
      dir,
    );
  }
  writeFileSync(join(dir, "ext.cnf"), `subjectAltName=${names}\n`);
  openssl(
    [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
    ],
    dir,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
      "-out",
      "server.pem",
    ],
    dir,
  );
  const file = (name: string): string => join(dir, name);
  return {
    dir,
    caFile: file("ca.pem"),
    certFile: file("server.pem"),
    keyFile: file("server.key"),
    otherCaFile: file("other-ca.pem"),
    ca: readFileSync(file("ca.pem"), "utf8"),
    cert: readFileSync(file("server.pem"), "utf8"),
    key: readFileSync(file("server.key"), "utf8"),
  };
}
