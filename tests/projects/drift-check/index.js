/* global exports */
// The stack the kms-key-drift tests use: three KMS keys (the tests drift each one a different way behind Pulumi's
// back) and one resource that is not a key, whose input the tests change to prove `recover` leaves it alone.
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

exports.keyIds = keys.map((key) => key.keyId);
exports.note = note.id;
