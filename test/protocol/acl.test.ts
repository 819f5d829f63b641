import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { calSignature, signatureContent, signRequest } from "../../src/protocol/acl.js";

test("HmacSHA1 vector from the Go client's interceptor test", () => {
  assert.equal(
    calSignature(Buffer.from("Hello RocketMQ Client ACL Feature", "utf8"), "adiaushdiaushd"),
    "tAb/54Rwwcq+pbH8Loi7FWX4QSQ=",
  );
});

test("content is the values sorted by key in UTF-16 order, without Signature, then the body", () => {
  const ext = { topic: "T", AccessKey: "ak", b: "2", a: "1", Signature: "old", Z: "z", "\u00e9": "\u00e9" };
  // UTF-16 order: uppercase before lowercase, "é" (U+00E9) after all ASCII.
  assert.deepEqual(signatureContent(ext, Buffer.from([0xff])), Buffer.from("616b7a313254c3a9ff", "hex")); // "akz12T" "é" 0xFF
  assert.deepEqual(signatureContent({ a: "x" }, undefined), Buffer.from("x"));
});

test("signRequest adds AccessKey, SecurityToken and the Signature over all of them", () => {
  const ext = { topic: "TopicA", queueId: "3" };
  const body = Buffer.from("hello");
  const signed = signRequest(ext, body, {
    accessKey: "rocketmq2",
    secretKey: "12345678",
    securityToken: "tok",
  });
  assert.deepEqual(Object.keys(ext), ["topic", "queueId"], "input untouched");
  // Sorted keys: AccessKey, SecurityToken, queueId, topic.
  // Computed independently with `openssl dgst -sha1 -hmac 12345678 | base64`.
  const expected = "SLJk5dDbKMTvk7rcU/AmZrQ3mcM=";
  assert.equal(expected, createHmac("sha1", "12345678").update("rocketmq2tok3TopicAhello").digest("base64"));
  assert.deepEqual(signed, {
    topic: "TopicA",
    queueId: "3",
    AccessKey: "rocketmq2",
    SecurityToken: "tok",
    Signature: expected,
  });
});

test("re-signing replaces an existing Signature and does not sign it", () => {
  const once = signRequest({ a: "1" }, undefined, { accessKey: "ak", secretKey: "sk" });
  const twice = signRequest(once, undefined, { accessKey: "ak", secretKey: "sk" });
  assert.equal(twice["Signature"], once["Signature"]);
  assert.equal(once["SecurityToken"], undefined);
  assert.equal(once["Signature"], "guIH2+8+NLj8nhCUwsPB5XEzcrQ="); // HmacSHA1("sk", "ak1"), openssl
});
