/* global exports */
// The program of tests/e2e/projects-replica.test.ts: a multi-Region primary key and its replica in another Region,
// each with its own description, tags and deletion window.
const { KmsKey, KmsReplicaKey } = require("pulumi-kms-key");

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
  tags: { team: "payments", copy: "eu" },
  deletionWindowInDays: 10,
});

exports.arns = { primary: primary.arn, replica: replica.arn };
exports.keyStates = { primary: primary.keyState, replica: replica.keyState };
