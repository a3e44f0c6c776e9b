/* global exports */
// The stack the kms-key-drift tests use: three KMS keys (the tests drift each one a different way behind Pulumi's
// back) and one resource that is not a key, whose input the tests change to prove `recover` leaves it alone; by config,
// a key with a declared policy and a key read with KmsKey.get.
const pulumi = require("@pulumi/pulumi");
const { KmsKey } = require("pulumi-kms-key");

const config = new pulumi.Config();
// A stack whose program fails on purpose: the tests check that its error does not hide other stacks' results.
if (config.getBoolean("broken")) throw new Error("this stack's program is broken on purpose (config broken=true)");

const keys = ["pending", "disabled", "tagged"].map(
  (name) => new KmsKey(name, { description: `kms-key-drift test key: ${name}`, tags: { team: "payments" } }),
);

// Keeps whatever it is given, in state only: a stand-in for everything else a real stack holds.
const noteProvider = {
  async create(inputs) {
    return { id: "note", outs: inputs };
  },
  async update(_id, _olds, news) {
    return { outs: news };
  },
};
const note = new pulumi.dynamic.Resource(noteProvider, "note", { text: config.get("note") ?? "first" });

// A key with a declared policy (config policy=true), written as a person writes one: KMS may hand it back in another,
// equivalent form.
if (config.getBoolean("policy")) {
  const statement = {
    Sid: "account",
    Effect: "Allow",
    Principal: { AWS: config.require("accountId") },
    Action: ["kms:Describe*", "kms:*"],
    Resource: "*",
  };
  const policyKey = new KmsKey("policy", {
    description: "kms-key-drift test key: policy",
    policy: JSON.stringify({ Version: "2012-10-17", Statement: statement }),
  });
  exports.policyKeyId = policyKey.keyId;
}

// A key the stack only reads (config readKeyId): KmsKey.get never changes it.
const readKeyId = config.get("readKeyId");
if (readKeyId) exports.readKeyState = KmsKey.get("read", readKeyId).keyState;

exports.keyIds = keys.map((key) => key.keyId);
exports.note = note.id;
