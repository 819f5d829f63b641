// Credentials from files and TLS settings: what the config points at is read when it loads, a
// bad file stops it with the key named, and no error or dump ever holds a secret or a key.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { clientOptions } from "../../src/config/client-options.js";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/index.js";
import { makeTestCertificates, type TestCertificates } from "../helpers/certs.js";

const SECRET = "file-secret-4b1d9e";
const ROUTES = `routes:
  - from: { cluster: east, topic: orders }
    to: { cluster: west }
`;

function config(east: string): string {
  return `name: t\nclusters:\n  east:\n    namesrv: "127.0.0.1:9876"\n${east}  west: { namesrv: "127.0.0.1:9878" }\n${ROUTES}`;
}

function problems(text: string, file: string): string[] {
  try {
    parseConfig(text, file, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.line}:${i.path}: ${i.message}`);
  }
  assert.fail("the config was accepted");
}

describe("credentials and TLS files of a config", () => {
  let dir: string;
  let certs: TestCertificates;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "rmq-config-files-"));
    certs = await makeTestCertificates();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(certs.dir, { recursive: true, force: true });
  });

  it("reads a credential from a file, relative to the config file, without its line break", async () => {
    writeFileSync(join(dir, "ak"), "east-ak\n");
    writeFileSync(join(dir, "sk"), `${SECRET}\r\n`);
    const path = join(dir, "connector.yaml");
    writeFileSync(path, config("    accessKey: { file: ak }\n    secretKey: { file: ./sk }\n"));
    const c = await loadConfig(path, {});
    const east = c.clusters.east;
    assert.ok(east);
    assert.equal(east.accessKey, "east-ak");
    assert.equal(east.secretKey, SECRET);
    assert.deepEqual(clientOptions(east).credentials, { accessKey: "east-ak", secretKey: SECRET });
    for (const dump of [JSON.stringify(c), inspect(c, { depth: 10 })])
      assert.ok(!dump.includes(SECRET), dump);
  });

  it("names the key and the file when a credential file is missing, empty or several lines", () => {
    writeFileSync(join(dir, "empty"), "\n");
    writeFileSync(join(dir, "two-lines"), `${SECRET}\nmore\n`);
    const found = problems(
      config(
        "    accessKey: { file: nowhere }\n    secretKey: { file: empty }\n    securityToken: { file: two-lines }\n",
      ),
      join(dir, "c.yaml"),
    );
    assert.deepEqual(found, [
      `5:clusters.east.accessKey.file: cannot read nowhere (${join(dir, "nowhere")}): no such file`,
      "6:clusters.east.secretKey.file: empty is empty",
      "7:clusters.east.securityToken.file: two-lines holds more than one line; a credential file holds the value alone",
    ]);
    assert.ok(!found.join("\n").includes(SECRET));
  });

  it("loads the CA, a client certificate and key, the server name and verify into the client's TLS options", () => {
    const c = parseConfig(
      config(
        `    tls:\n      ca: ${certs.caFile}\n      cert: ${certs.certFile}\n      key: ${certs.keyFile}\n      serverName: broker.example\n`,
      ),
      join(dir, "c.yaml"),
      {},
    );
    const east = c.clusters.east;
    assert.ok(east && east.tls !== false);
    assert.deepEqual(east.tls.files, { ca: certs.caFile, cert: certs.certFile, key: certs.keyFile });
    assert.deepEqual(clientOptions(east).tls, {
      rejectUnauthorized: true,
      ca: certs.ca,
      cert: certs.cert,
      key: certs.key,
      servername: "broker.example",
    });
    // The private key is in the config, never in a dump of it.
    const keyBody = certs.key.split("\n")[1] ?? "";
    assert.ok(keyBody.length > 20);
    for (const dump of [JSON.stringify(c), inspect(c, { depth: 10 })]) assert.ok(!dump.includes(keyBody));
    const off = parseConfig(config("    tls: { verify: false }\n"), "c.yaml", {});
    assert.deepEqual(off.clusters.east && clientOptions(off.clusters.east).tls, {
      rejectUnauthorized: false,
    });
    const plain = parseConfig(config("    tls: true\n"), "c.yaml", {});
    assert.deepEqual(plain.clusters.east && clientOptions(plain.clusters.east).tls, {
      rejectUnauthorized: true,
    });
  });

  it("keeps only the certificates of a PEM file that holds the key too; refuses a token with blanks", () => {
    const both = join(dir, "client-with-key.pem");
    writeFileSync(both, `${certs.cert}${certs.key}`);
    const c = parseConfig(
      config(`    tls: { cert: ${both}, key: ${both}, ca: ${both} }\n`),
      join(dir, "c.yaml"),
      {},
    );
    const east = c.clusters.east;
    assert.ok(east && east.tls !== false);
    assert.equal(east.tls.cert?.trim(), certs.cert.trim());
    assert.equal(east.tls.ca?.trim(), certs.cert.trim());
    assert.equal((clientOptions(east).tls as { key?: unknown }).key, `${certs.cert}${certs.key}`);
    for (const dump of [JSON.stringify(c), inspect(c, { depth: 10 })])
      assert.ok(!dump.includes("PRIVATE KEY"), dump);
    assert.deepEqual(problems(`${config("")}metrics: { token: "two words" }\n`, join(dir, "c.yaml")), [
      "9:metrics.token: the token must not contain spaces or other blanks",
    ]);
  });

  it("refuses a CA file without certificates, a cert without its key and a key of another cert", async () => {
    writeFileSync(join(dir, "not-a-ca.pem"), "hello\n");
    assert.deepEqual(problems(config("    tls: { ca: not-a-ca.pem }\n"), join(dir, "c.yaml")), [
      "5:clusters.east.tls.ca: not-a-ca.pem: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
    ]);
    assert.deepEqual(problems(config(`    tls: { cert: ${certs.certFile} }\n`), join(dir, "c.yaml")), [
      "5:clusters.east.tls.cert: tls.cert and tls.key go together: give both or neither",
    ]);
    const other = await makeTestCertificates();
    try {
      const [mismatch] = problems(
        config(`    tls: { cert: ${certs.certFile}, key: ${other.keyFile} }\n`),
        join(dir, "c.yaml"),
      );
      assert.match(mismatch ?? "", /^5:clusters\.east\.tls\.cert: .* with .*: .*key values mismatch/);
      assert.ok(!(mismatch ?? "").includes(other.key.split("\n")[1] ?? "-"));
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });
});
