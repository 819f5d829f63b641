/**
 * Throwaway PKI for tests: the sandbox's own generator (a CA and a server certificate for
 * localhost / 127.0.0.1, made with openssl for the run; no key is ever committed), with the PEM
 * texts read for tests that compare them.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateCertificates } from "../../src/sandbox/index.js";

export interface TestCertificates {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
}

export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = mkdtempSync(join(tmpdir(), "rmq-test-certs-"));
  const files = await generateCertificates(join(dir, "pki"));
  const read = (file: string): string => readFileSync(file, "utf8");
  return { dir, ...files, ca: read(files.caFile), cert: read(files.certFile), key: read(files.keyFile) };
}
