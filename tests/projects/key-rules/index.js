/* global exports */
// The program of tests/e2e/projects-rules.test.ts. Config `case` picks what it declares:
//   family:  a multi-Region primary (us-east-1, tag team=<team>) and, with replicaArn, a read of its replica (get)
//   adopted: the replica taken over with the import option (importArn), and the primary only while keepPrimary=true
//   nulls:   a key whose region, policy, description and rotationPeriodInDays are null
//   import:  a key adopted with the import option (importArn), in the declared region (region, when set)
// With failAfter=true a resource that fails on create, after the keys, stops the run before its deletes.
const pulumi = require("@pulumi/pulumi");
const { KmsKey } = require("pulumi-kms-key");

const config = new pulumi.Config();
const keys = {};
switch (config.require("case")) {
  case "family": {
    const replicaArn = config.get("replicaArn");
    // Read first, so the primary's update comes after the replica's read in the same provider process.
    const replica = replicaArn ? KmsKey.get("replica", replicaArn) : undefined;
    keys.primary = new KmsKey(
      "primary",
      { multiRegion: true, region: "us-east-1", tags: { team: config.get("team") ?? "a" } },
      { dependsOn: replica ? [replica] : [] },
    );
    if (replica) keys.replica = replica;
    break;
  }
  case "adopted": {
    if (config.getBoolean("keepPrimary")) {
      keys.primary = new KmsKey("primary", { multiRegion: true, region: "us-east-1", tags: { team: "a" } });
    }
    keys.replica = new KmsKey("replica", { multiRegion: true }, { import: config.require("importArn") });
    break;
  }
  case "nulls":
    keys.nulls = new KmsKey("nulls", {
      description: null,
      region: null,
      policy: null,
      rotationPeriodInDays: null,
      enableKeyRotation: true,
    });
    break;
  case "import":
    keys.imported = new KmsKey(
      "imported",
      { description: "imported", region: config.get("region") },
      { import: config.require("importArn") },
    );
    break;
}

// Stands in for anything else in a stack whose create fails: the engine then stops before its delete steps.
if (config.getBoolean("failAfter")) {
  const failing = {
    async create() {
      throw new Error("this resource fails on purpose (config failAfter=true)");
    },
  };
  new pulumi.dynamic.Resource(failing, "fails", { after: Object.values(keys).map((key) => key.arn) });
}

exports.arns = Object.fromEntries(Object.entries(keys).map(([name, key]) => [name, key.arn]));
exports.keyStates = Object.fromEntries(Object.entries(keys).map(([name, key]) => [name, key.keyState]));
