/* global exports */
// The program of tests/e2e/projects-alias.test.ts: a key and alias/orders pointing at it by key ID; with config
// `second`, one more alias of that name pointing at the key by ARN (an alias someone left on another key, say); with
// config `read`, a read of the alias of that name (KmsAlias.get), which the stack never changes.
const pulumi = require("@pulumi/pulumi");
const { KmsAlias, KmsKey } = require("pulumi-kms-key");

const config = new pulumi.Config();
const key = new KmsKey("key", { description: "what alias/orders names", deletionWindowInDays: 7 });
const aliases = { orders: new KmsAlias("orders", { name: "alias/orders", targetKeyId: key.keyId }) };
const second = config.get("second");
if (second) aliases.second = new KmsAlias("second", { name: second, targetKeyId: key.arn });
const read = config.get("read");
if (read) aliases.read = KmsAlias.get("read", read);

exports.keyId = key.keyId;
exports.keyArn = key.arn;
exports.aliases = Object.fromEntries(
  Object.entries(aliases).map(([name, alias]) => [
    name,
    { name: alias.name, arn: alias.arn, targetKeyId: alias.targetKeyId, targetKeyArn: alias.targetKeyArn },
  ]),
);
