// KmsAlias without a network: check() refuses what KMS would, naming the property; diff() tells updates from
// replacements and compares the key an alias resolves to, not how it is written; the tables and SDK types derive from
// the schema.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { AliasProvider, diffAlias, inputsOf, outputsOf } from "../../provider/alias/provider";
import { ALIAS_SCHEMA } from "../../provider/alias/schema";
import { parseKeyArn } from "../../provider/keyAddress";
import { markdownTables, UNKNOWN } from "../../provider/schema";
import { KmsAliasArgs, KmsAliasProvider } from "../../sdk";

const provider = new AliasProvider();
const keyId = "1234abcd-12ab-34cd-56ef-1234567890ab";
const otherKeyId = "0987dcba-09ba-43dc-65fe-0987654321ba";
const keyArn = (id: string, region = "us-east-1") => `arn:aws:kms:${region}:111122223333:key/${id}`;
const aliasArn = (name: string, region = "us-east-1") => `arn:aws:kms:${region}:111122223333:${name}`;
const valid = { name: "alias/orders", targetKeyId: keyId };

interface Refusal {
  name: string;
  inputs: Record<string, unknown>;
  property: string;
  allowed: RegExp;
}

const REFUSED: Refusal[] = [
  { name: "no name", inputs: { targetKeyId: keyId }, property: "name", allowed: /name is required: The alias name/ },
  { name: "no target", inputs: { name: "alias/a" }, property: "targetKeyId", allowed: /targetKeyId is required/ },
  {
    name: "a name without the prefix",
    inputs: { ...valid, name: "orders" },
    property: "name",
    allowed: /start with "alias\/"/,
  },
  {
    name: "the prefix alone",
    inputs: { ...valid, name: "alias/" },
    property: "name",
    allowed: /a name after "alias\/"/,
  },
  {
    name: "the reserved prefix",
    inputs: { ...valid, name: "alias/aws/ebs" },
    property: "name",
    allowed: /may not start with "alias\/aws\/": KMS reserves it/,
  },
  {
    name: "a space",
    inputs: { ...valid, name: "alias/a b" },
    property: "name",
    allowed: /letters A-Z and a-z, digits, "\/", "_" and "-"; .* has " "/,
  },
  { name: "a colon", inputs: { ...valid, name: "alias/a:b" }, property: "name", allowed: /has ":"/ },
  { name: "a letter beyond ASCII", inputs: { ...valid, name: "alias/é" }, property: "name", allowed: /has "é"/ },
  {
    name: "257 characters",
    inputs: { ...valid, name: `alias/${"a".repeat(251)}` },
    property: "name",
    allowed: /at most 256 characters; got 257/,
  },
  { name: "a number as name", inputs: { ...valid, name: 42 }, property: "name", allowed: /must be a string/ },
  {
    name: "an alias as target",
    inputs: { ...valid, targetKeyId: "alias/other" },
    property: "targetKeyId",
    allowed: /targetKeyId must name a key: .*an alias can point only at a key, never at another alias/,
  },
  {
    name: "an alias ARN as target",
    inputs: { ...valid, targetKeyId: aliasArn("alias/other") },
    property: "targetKeyId",
    allowed: /never at another alias/,
  },
  {
    name: "a target that is no key ID",
    inputs: { ...valid, targetKeyId: "my-key" },
    property: "targetKeyId",
    allowed: /neither a key ID .* nor a key ARN/,
  },
  {
    name: "a declared Region other than the target key ARN's",
    inputs: { ...valid, targetKeyId: keyArn(keyId, "eu-west-1"), region: "us-east-1" },
    property: "region",
    allowed:
      /region is "us-east-1" but targetKeyId is a key in "eu-west-1" .*declare region: "eu-west-1" or leave region out/,
  },
  {
    name: "an import option that names no alias",
    inputs: { ...valid, importAliasName: "orders" },
    property: "importAliasName",
    allowed: /must name an existing alias by its name \(alias\/...\) or alias ARN/,
  },
  {
    name: "an import option of another name",
    inputs: { ...valid, importAliasName: "alias/payments" },
    property: "name",
    allowed: /name is "alias\/orders" but the import option names the alias "alias\/payments"/,
  },
  {
    name: "an import option of an alias in another Region",
    inputs: { ...valid, importAliasName: aliasArn("alias/orders", "eu-west-1"), region: "us-east-1" },
    property: "region",
    allowed: /region is "us-east-1" but the import option names an alias in "eu-west-1"/,
  },
  {
    name: "an input KmsAlias does not have",
    inputs: { ...valid, description: "x" },
    property: "description",
    allowed: /not an input of KmsAlias; the inputs are: name, targetKeyId, region, endpoint, allowInsecureEndpoint$/,
  },
  {
    name: "a bad Region",
    inputs: { ...valid, region: "US East" },
    property: "region",
    allowed: /lowercase letters, digits and dashes/,
  },
];

describe("KmsAlias check(): invalid inputs", () => {
  for (const row of REFUSED) {
    it(`refuses ${row.name}, naming ${row.property}`, async () => {
      const result = await provider.check({}, row.inputs);
      expect(result.inputs, "no inputs for a failed check").to.equal(undefined);
      const failure = result.failures?.find((f) => f.property === row.property);
      expect(failure, `a failure for ${row.property} in ${JSON.stringify(result.failures)}`).to.not.equal(undefined);
      expect(failure!.reason).to.include(row.property.replace("importAliasName", "import option"));
      expect(failure!.reason).to.match(row.allowed);
    });
  }

  it("does not echo credentials given in an endpoint", async () => {
    const result = await provider.check({}, { ...valid, endpoint: "https://AKIADISTINCT:very-secret@kms.example.com" });
    expect(JSON.stringify(result.failures)).to.not.include("very-secret").and.not.include("AKIADISTINCT");
  });
});

describe("KmsAlias check(): valid inputs", () => {
  for (const inputs of [
    valid,
    { name: `alias/${"a".repeat(250)}`, targetKeyId: keyId },
    { name: "alias/team_a/orders-2", targetKeyId: keyArn(keyId, "eu-west-1") },
    { name: "alias/aws", targetKeyId: keyId },
    { name: "alias/orders", targetKeyId: keyArn(keyId, "eu-west-1"), region: "eu-west-1" },
    { name: "alias/orders", targetKeyId: "mrk-1234abcd12ab34cd56ef1234567890ab", region: null },
    { name: "alias/orders", targetKeyId: UNKNOWN },
    { name: UNKNOWN, targetKeyId: keyId },
    { ...valid, importAliasName: aliasArn("alias/orders") },
  ]) {
    it(`accepts ${JSON.stringify(inputs).slice(0, 100)}`, async () => {
      const result = await provider.check({}, inputs);
      expect(result.failures, JSON.stringify(result.failures)).to.equal(undefined);
      expect(result.inputs).to.not.have.property("region", null);
    });
  }
});

/** The state of an alias as the last read left it, pointing at `target` (a key ID), declared as `declared`. */
function stateOf(declared: Record<string, unknown>, target = keyId, region = "us-east-1") {
  const arn = aliasArn(String(declared.name), region);
  const outputs = outputsOf(declared, {
    name: String(declared.name),
    arn,
    target: parseKeyArn(keyArn(target, region))!,
  });
  return outputs as unknown as Record<string, unknown>;
}

describe("KmsAlias diff()", () => {
  it("no change while the alias points at the declared key", () => {
    expect(diffAlias(stateOf(valid), valid)).to.deep.equal({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
    });
  });

  it("another target key is an update in place, never a replacement", () => {
    expect(diffAlias(stateOf(valid), { ...valid, targetKeyId: otherKeyId })).to.deep.include({
      changes: true,
      replaces: [],
    });
  });

  it("the alias repointed behind the program's back (the refresh's state) is an update back", () => {
    expect(diffAlias(stateOf(valid, otherKeyId), valid)).to.deep.include({ changes: true, replaces: [] });
  });

  it("a new name is a replacement", () => {
    expect(diffAlias(stateOf(valid), { ...valid, name: "alias/payments" })).to.deep.include({
      changes: true,
      replaces: ["name"],
    });
  });

  it("another declared Region is a replacement; declaring the alias's own Region is not", () => {
    expect(diffAlias(stateOf(valid), { ...valid, region: "eu-west-1" }).replaces).to.deep.equal(["region"]);
    expect(diffAlias(stateOf(valid), { ...valid, region: "us-east-1" }).replaces).to.deep.equal([]);
  });

  it("a target key ARN of another Region is a replacement (the alias goes with its key)", () => {
    const diff = diffAlias(stateOf(valid), { ...valid, targetKeyId: keyArn(keyId, "eu-west-1") });
    expect(diff).to.deep.include({ changes: true, replaces: ["targetKeyId"] });
  });

  it("the same key by ID or by ARN is no change, either way round", () => {
    const byArn = { ...valid, targetKeyId: keyArn(keyId) };
    expect(diffAlias(stateOf(valid), byArn)).to.deep.include({ changes: false, replaces: [] });
    expect(diffAlias(stateOf(byArn), valid)).to.deep.include({ changes: false, replaces: [] });
    expect(diffAlias(stateOf(valid), { ...valid, targetKeyId: keyId.toUpperCase() })).to.deep.include({
      changes: false,
    });
    // Another account's key of the same ID is another key.
    const elsewhere = { ...valid, targetKeyId: `arn:aws:kms:us-east-1:999999999999:key/${keyId}` };
    expect(diffAlias(stateOf(valid), elsewhere)).to.deep.include({ changes: true });
  });

  it("a target not known yet (preview) is a change, not a replacement", () => {
    expect(diffAlias(stateOf(valid), { ...valid, targetKeyId: UNKNOWN })).to.deep.include({
      changes: true,
      replaces: [],
    });
  });

  it("a new endpoint is an update with no replacement (kept in state only)", () => {
    const diff = diffAlias(stateOf({ ...valid, endpoint: "http://127.0.0.1:4566" }), {
      ...valid,
      endpoint: "http://127.0.0.1:4567",
    });
    expect(diff).to.deep.include({ changes: true, replaces: [] });
  });
});

describe("KmsAlias outputs", () => {
  it("keep the declared form of targetKeyId while it names the key KMS has; after a repoint, KMS's key in that form", () => {
    expect(stateOf(valid)).to.include({
      targetKeyId: keyId,
      targetKeyArn: keyArn(keyId),
      arn: aliasArn("alias/orders"),
    });
    const byArn = { ...valid, targetKeyId: keyArn(keyId) };
    expect(stateOf(byArn)).to.include({ targetKeyId: keyArn(keyId) });
    expect(stateOf(byArn, otherKeyId)).to.include({
      targetKeyId: keyArn(otherKeyId),
      targetKeyArn: keyArn(otherKeyId),
    });
    expect(stateOf(valid, otherKeyId)).to.include({ targetKeyId: otherKeyId });
  });

  it("a refresh records the inputs without what only KMS reports", () => {
    const inputs = inputsOf(stateOf({ ...valid, region: "us-east-1" }) as never);
    expect(inputs).to.deep.equal({ name: "alias/orders", targetKeyId: keyId, region: "us-east-1" });
  });
});

describe("KmsAlias from its schema", () => {
  it("the README's tables: every input with its default, what is allowed and what a change does; the outputs besides", () => {
    const tables = markdownTables(ALIAS_SCHEMA);
    expect(tables).to.match(/^\| `name` \| The alias name \| required \| .*256 characters.* \| \*\*replace\*\* \|$/m);
    expect(tables).to.match(
      /^\| `targetKeyId` \| .* \| required \| a key ID or key ARN .* \| update \(`UpdateAlias`\) \|$/m,
    );
    expect(tables).to.match(
      /^\| `region` \| .* \| targetKeyId's when a key ARN, else the environment's \| .* \| \*\*replace\*\* when it names another Region than the alias's \|$/m,
    );
    expect(tables).to.match(/^\| `importAliasName` \| .*set by the `import` resource option \| adopts that alias/m);
    expect(tables).to.include("`arn` (the alias ARN)");
    expect(tables).to.include("`targetKeyArn` (");
  });

  it("the SDK's Args require name and targetKeyId", () => {
    const args: KmsAliasArgs = { name: "alias/a", targetKeyId: pulumi.output(keyId), region: "us-east-1" };
    // @ts-expect-error: targetKeyId is required
    const noTarget: KmsAliasArgs = { name: "alias/a" };
    // @ts-expect-error: importAliasName is set by the import option, not declared
    const option: KmsAliasArgs = { ...args, importAliasName: "alias/a" };
    expect([args, noTarget, option]).to.have.length(3);
  });

  it("the state names the provider by one require() of its module, small and without clients", async () => {
    const text = (await pulumi.runtime.serializeFunction(() => new KmsAliasProvider())).text;
    expect(text).to.include('require("pulumi-kms-key/provider/alias")');
    expect(text).to.not.include("UpdateAliasCommand").and.not.include("KMSClient").and.not.include("process.env");
    expect(text.length).to.be.below(8 * 1024);
  });
});
