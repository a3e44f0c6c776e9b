/* global exports */
// The stack of tests/e2e/drift-family.test.ts: a multi-Region primary key in us-east-1, its replica in eu-west-1, and
// alias/orders in each Region (on the primary by key ID, on the replica by its ARN, which says the Region). The tests
// drift each one behind Pulumi's back. With config read=true, the stack also reads the replica (KmsReplicaKey.get)
// and the primary's alias (KmsAlias.get): it never manages them, so they are never drift.
const pulumi = require("@pulumi/pulumi");
const { KmsAlias, KmsKey, KmsReplicaKey } = require("pulumi-kms-key");

const config = new pulumi.Config();
const primary = new KmsKey("primary", {
  description: "orders",
  multiRegion: true,
  region: "us-east-1",
  tags: { team: "payments" },
  deletionWindowInDays: 7,
});
const replica = new KmsReplicaKey("replica", {
  primaryKeyArn: primary.arn,
  region: "eu-west-1",
  description: "orders, Ireland",
  tags: { team: "payments" },
  deletionWindowInDays: 7,
});
const primaryAlias = new KmsAlias("primary-alias", { name: "alias/orders", targetKeyId: primary.keyId });
const replicaAlias = new KmsAlias("replica-alias", { name: "alias/orders", targetKeyId: replica.arn });

if (config.getBoolean("read")) {
  exports.read = {
    replicaKeyState: KmsReplicaKey.get("read-replica", replica.arn).keyState,
    aliasTargetKeyArn: KmsAlias.get("read-alias", primaryAlias.arn).targetKeyArn,
  };
}

exports.arns = { primary: primary.arn, replica: replica.arn };
exports.aliasArns = { primary: primaryAlias.arn, replica: replicaAlias.arn };
