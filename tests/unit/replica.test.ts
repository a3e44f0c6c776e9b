// KmsReplicaKey without a network: check()'s rules from its schema, and diff's replace and update rules.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { expect } from "chai";
import { ObservedKey } from "../../provider/plan";
import { ReplicaProvider, replicaOutputsOf } from "../../provider/replica/provider";
import { REPLICA_SCHEMA } from "../../provider/replica/schema";
import { markdownTables, outputNames } from "../../provider/schema";
import { UNKNOWN } from "../../provider/validation";

const provider = new ReplicaProvider();
const KEY_ID = "mrk-1234abcd12ab34cd56ef1234567890ab";
const PRIMARY_ARN = `arn:aws:kms:us-east-1:111122223333:key/${KEY_ID}`;
const REPLICA_ARN = `arn:aws:kms:eu-west-1:111122223333:key/${KEY_ID}`;
const BASE = { primaryKeyArn: PRIMARY_ARN, region: "eu-west-1" };

async function failures(news: Record<string, unknown>) {
  const result = await provider.check({}, news);
  expect(result.inputs, "no inputs for a failed check").to.equal(undefined);
  return result.failures ?? [];
}

async function refusal(news: Record<string, unknown>, property: string): Promise<string> {
  const failure = (await failures(news)).find((f) => f.property === property);
  expect(failure, `a failure for ${property}`).to.not.equal(undefined);
  return failure!.reason;
}

describe("KmsReplicaKey check()", () => {
  it("fills in the defaults KmsKey has for the same facts, and the key state asked for", async () => {
    const result = await provider.check({}, { ...BASE, description: "orders" });
    expect(result.failures).to.equal(undefined);
    expect(result.inputs).to.deep.equal({
      ...BASE,
      description: "orders",
      tags: {},
      enabled: true,
      deletionWindowInDays: 30,
      keyState: "Enabled",
    });
    const disabled = await provider.check({}, { ...BASE, enabled: false });
    expect(disabled.inputs).to.include({ keyState: "Disabled" });
  });

  it("requires primaryKeyArn and region, saying what to declare", async () => {
    expect(await refusal({ region: "eu-west-1" }, "primaryKeyArn")).to.match(/primaryKeyArn is required: the key ARN/);
    expect(await refusal({ primaryKeyArn: PRIMARY_ARN }, "region")).to.match(/region is required: .*such as eu-west-1/);
    expect(await refusal({ ...BASE, region: null }, "region")).to.include("required");
  });

  it("refuses a primaryKeyArn that is not a multi-Region key's ARN, naming the property", async () => {
    const single = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    expect(await refusal({ ...BASE, primaryKeyArn: single }, "primaryKeyArn")).to.match(
      /primaryKeyArn must name a multi-Region key .*single-Region key/,
    );
    expect(await refusal({ ...BASE, primaryKeyArn: KEY_ID }, "primaryKeyArn")).to.match(
      /primaryKeyArn must be the key ARN of a multi-Region primary key/,
    );
    expect(
      await refusal({ ...BASE, primaryKeyArn: `arn:aws:kms::111122223333:key/${KEY_ID}` }, "primaryKeyArn"),
    ).to.include("must be the key ARN");
    expect(await refusal({ ...BASE, primaryKeyArn: 42 }, "primaryKeyArn")).to.include("must be a string");
  });

  it("refuses a region that is the primary key's own, or not a region name", async () => {
    expect(await refusal({ ...BASE, region: "us-east-1" }, "region")).to.match(
      /region is "us-east-1", the Region of the primary key .*another Region/,
    );
    expect(await refusal({ ...BASE, region: "EU West" }, "region")).to.include("lowercase letters");
  });

  it("refuses rotation in plain words: a replica rotates with its primary key, set it on the primary KmsKey", async () => {
    for (const name of ["enableKeyRotation", "rotationPeriodInDays"]) {
      const value = name === "enableKeyRotation" ? true : 180;
      const reason = await refusal({ ...BASE, [name]: value }, name);
      expect(reason).to.include(`${name} can't be set on a KmsReplicaKey`);
      expect(reason).to.include(`Set ${name} on the primary KmsKey instead`);
    }
    expect(await refusal({ ...BASE, enableKeyRotation: false }, "enableKeyRotation")).to.include("primary KmsKey");
    // A null (an Output that resolves to null) means nothing declared.
    expect((await provider.check({}, { ...BASE, enableKeyRotation: null })).failures).to.equal(undefined);
  });

  it("refuses what a replica shares with its primary key (keySpec, keyUsage, multiRegion), saying to declare it there", async () => {
    for (const name of ["keySpec", "keyUsage", "multiRegion"]) {
      expect(await refusal({ ...BASE, [name]: name === "multiRegion" ? true : "SYMMETRIC_DEFAULT" }, name)).to.include(
        `a replica has its primary key's ${name}`,
      );
    }
    expect(await refusal({ ...BASE, colour: "red" }, "colour")).to.include("colour is not an input of KmsReplicaKey");
  });

  it("applies KmsKey's own rules to the facts it shares: description, policy, tags, deletion window, endpoint", async () => {
    expect(await refusal({ ...BASE, description: "x".repeat(8193) }, "description")).to.include("at most 8192");
    expect(await refusal({ ...BASE, policy: "{" }, "policy")).to.include("does not parse");
    expect(await refusal({ ...BASE, tags: { "aws:x": "1" } }, "tags")).to.include('may not start with "aws:"');
    expect(await refusal({ ...BASE, deletionWindowInDays: 31 }, "deletionWindowInDays")).to.include("7 to 30");
    expect(await refusal({ ...BASE, enabled: "yes" }, "enabled")).to.include("true or false");
    expect(await refusal({ ...BASE, endpoint: "http://kms.example.com" }, "endpoint")).to.include("not loopback");
    // An endpoint holding credentials is refused without naming the property (the engine would print the value).
    const hidden = await failures({ ...BASE, endpoint: "https://user:secret@kms.example.com" });
    expect(hidden[0]).to.include({ property: "" });
    expect(hidden[0].reason).to.not.include("secret");
  });

  it("the import option: a multi-Region key ID or ARN, whose Region must be the declared one", async () => {
    expect((await provider.check({}, { ...BASE, importKeyId: REPLICA_ARN })).failures).to.equal(undefined);
    expect((await provider.check({}, { ...BASE, importKeyId: KEY_ID })).failures).to.equal(undefined);
    expect(await refusal({ ...BASE, importKeyId: "alias/x" }, "importKeyId")).to.include("an alias names a key");
    expect(await refusal({ ...BASE, importKeyId: "1234abcd-12ab-34cd-56ef-1234567890ab" }, "importKeyId")).to.include(
      "single-Region key",
    );
    expect(
      await refusal({ ...BASE, importKeyId: REPLICA_ARN.replace("eu-west-1", "ap-southeast-2") }, "region"),
    ).to.include('the import option names a replica in "ap-southeast-2"');
  });

  it("skips rules on values unknown at preview (the primary key not made yet)", async () => {
    const result = await provider.check({}, { primaryKeyArn: UNKNOWN, region: "eu-west-1" });
    expect(result.failures).to.equal(undefined);
  });

  it("derives its outputs and README tables from the schema: required inputs marked, no rotation input", () => {
    const tables = markdownTables(REPLICA_SCHEMA);
    expect(tables).to.match(
      /^\| `primaryKeyArn` \| The multi-Region primary key to replicate \| required \| .* \| \*\*replace\*\* \|$/m,
    );
    expect(tables).to.match(/^\| `region` \| The replica's Region \| required \| .* \| \*\*replace\*\* \|$/m);
    expect(tables).to.not.include("enableKeyRotation");
    expect(outputNames(REPLICA_SCHEMA)).to.include.members([
      "primaryKeyArn",
      "region",
      "arn",
      "keyState",
      "deletionDate",
    ]);
    expect(outputNames(REPLICA_SCHEMA)).to.not.include("ownerTag");
  });
});

describe("KmsReplicaKey's provider module", () => {
  it("loads first in a process of its own, as the engine's provider process of a destroy that starts with a replica", () => {
    // The compiled module beside this test's: dist/provider/replica/index.js.
    const module = path.join(__dirname, "..", "..", "provider", "replica", "index.js");
    const loaded = execFileSync(
      process.execPath,
      ["-e", `console.log(Object.keys(require(${JSON.stringify(module)})).sort().join())`],
      {
        encoding: "utf8",
      },
    );
    expect(loaded.trim()).to.equal("ReplicaProvider,check,create,delete,diff,read,update");
  });
});

describe("KmsReplicaKey diff()", () => {
  function state(declared: Record<string, unknown>, overrides: Partial<ObservedKey> = {}) {
    const observed: ObservedKey = {
      keyId: KEY_ID,
      arn: REPLICA_ARN,
      keyState: declared.enabled === false ? "Disabled" : "Enabled",
      description: (declared.description as string) ?? "",
      keyUsage: "ENCRYPT_DECRYPT",
      keySpec: "SYMMETRIC_DEFAULT",
      multiRegion: true,
      multiRegionKeyType: "REPLICA",
      primaryKeyArn: PRIMARY_ARN,
      origin: "AWS_KMS",
      keyManager: "CUSTOMER",
      policy: declared.policy as string | undefined,
      tags: (declared.tags as Record<string, string>) ?? {},
      unreadable: [],
      ...overrides,
    };
    return replicaOutputsOf(declared, observed) as unknown as Record<string, unknown>;
  }
  const declared = { ...BASE, description: "orders", tags: { team: "payments" }, deletionWindowInDays: 30 };
  const checked = async (news: Record<string, unknown>) =>
    (await provider.check({}, news)).inputs as Record<string, unknown>;

  it("finds no change when the replica is as declared", async () => {
    expect(await provider.diff(KEY_ID, state(declared), await checked(declared))).to.deep.include({
      changes: false,
      replaces: [],
    });
  });

  for (const [name, value] of [
    ["primaryKeyArn", "arn:aws:kms:us-west-2:111122223333:key/mrk-99999999999999999999999999999999"],
    ["region", "ap-southeast-2"],
  ] as const) {
    it(`replaces the replica when ${name} changes (another key family, or another Region)`, async () => {
      const diff = await provider.diff(KEY_ID, state(declared), await checked({ ...declared, [name]: value }));
      expect(diff).to.deep.include({ changes: true, replaces: [name], deleteBeforeReplace: false });
    });
  }

  for (const [name, value] of [
    ["description", "changed"],
    ["policy", '{"Statement":[{"Effect":"Allow"}]}'],
    ["tags", { team: "other" }],
    ["enabled", false],
    ["deletionWindowInDays", 7],
  ] as const) {
    it(`updates ${name} in place, never replaces`, async () => {
      const diff = await provider.diff(KEY_ID, state(declared), await checked({ ...declared, [name]: value }));
      expect(diff).to.deep.include({ changes: true, replaces: [] });
    });
  }

  it("a replica pending deletion is an update that brings it back, never a replacement", async () => {
    const olds = state(declared, { keyState: "PendingDeletion", deletionDate: "2026-12-08T00:00:00.000Z" });
    expect(await provider.diff(KEY_ID, olds, await checked(declared))).to.deep.include({ changes: true, replaces: [] });
  });

  it("an unknown primaryKeyArn in a preview (its KmsKey has an update planned) is a change, not a replacement", async () => {
    const diff = await provider.diff(KEY_ID, state(declared), { ...(await checked(declared)), primaryKeyArn: UNKNOWN });
    expect(diff).to.deep.include({ changes: true, replaces: [] });
  });

  it("a Creating or Updating replica settles the diff; a primary moved away (UpdatePrimaryRegion) is no replacement", async () => {
    for (const keyState of ["Creating", "Updating"]) {
      expect(await provider.diff(KEY_ID, state(declared, { keyState }), await checked(declared))).to.deep.include({
        changes: false,
      });
    }
    const moved = state(declared, { primaryKeyArn: REPLICA_ARN, multiRegionKeyType: "PRIMARY" });
    expect(moved.primaryKeyArn, "as declared").to.equal(PRIMARY_ARN);
    expect((await provider.diff(KEY_ID, moved, await checked(declared))).replaces).to.deep.equal([]);
  });

  it("refuses a replacement while the import option names this very replica", async () => {
    const news = { ...(await checked(declared)), region: "ap-southeast-2", importKeyId: REPLICA_ARN };
    const err = await provider.diff(KEY_ID, state(declared), news).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(err).to.include("Remove the import option");
  });
});
