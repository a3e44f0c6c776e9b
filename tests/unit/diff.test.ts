// diff(): no network; pending deletion is an update, immutable properties are replacements.
import { expect } from "chai";
import { inputsOf, KeyProvider, outputsOf, withDefaults } from "../../provider/key/provider";
import { ObservedKey } from "../../provider/plan";
import { UNKNOWN } from "../../provider/validation";

const provider = new KeyProvider();
const keyId = "1234abcd-12ab-34cd-56ef-1234567890ab";

function stateFor(declared: Record<string, unknown>, overrides: Partial<ObservedKey> = {}) {
  const inputs = withDefaults(declared);
  const observed: ObservedKey = {
    keyId,
    arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
    keyState: inputs.enabled ? "Enabled" : "Disabled",
    description: inputs.description ?? "",
    keyUsage: inputs.keyUsage ?? "ENCRYPT_DECRYPT",
    keySpec: inputs.keySpec ?? "SYMMETRIC_DEFAULT",
    multiRegion: inputs.multiRegion ?? false,
    origin: "AWS_KMS",
    keyManager: "CUSTOMER",
    policy: inputs.policy,
    enableKeyRotation: inputs.enableKeyRotation,
    rotationPeriodInDays: inputs.rotationPeriodInDays,
    tags: inputs.tags,
    unreadable: [],
    ...overrides,
  };
  const outputs = outputsOf(inputs, observed);
  return {
    inputs: inputs as unknown as Record<string, unknown>,
    outputs: outputs as unknown as Record<string, unknown>,
    typed: outputs,
  };
}

describe("diff()", () => {
  const declared = { description: "orders", tags: { team: "payments" }, policy: '{"Statement":[{"Effect":"Allow"}]}' };

  it("finds no change when the key is as declared", async () => {
    const { inputs, outputs } = stateFor(declared);
    expect(await provider.diff(keyId, outputs, inputs)).to.deep.include({ changes: false, replaces: [] });
  });

  it("makes a key pending deletion an update, never a replacement", async () => {
    const { inputs, outputs } = stateFor(declared, {
      keyState: "PendingDeletion",
      deletionDate: "2026-12-05T00:00:00Z",
    });
    const diff = await provider.diff(keyId, outputs, inputs);
    expect(diff.changes).to.equal(true);
    expect(diff.replaces).to.deep.equal([]);
    expect(diff.deleteBeforeReplace).to.equal(false);
  });

  it("makes a key pending deletion an update also when declared disabled", async () => {
    const { inputs, outputs } = stateFor({ ...declared, enabled: false }, { keyState: "PendingDeletion" });
    const diff = await provider.diff(keyId, outputs, inputs);
    expect(diff).to.deep.include({ changes: true, replaces: [] });
  });

  it("diffs the inputs a refresh records against the declared ones: PendingDeletion => Enabled is an update", async () => {
    const { inputs } = stateFor(declared);
    const refreshed = inputsOf(
      stateFor(declared, { keyState: "PendingDeletion", deletionDate: "2026-12-05T00:00:00Z" }).typed,
    );
    expect(refreshed).to.not.have.property("keyId");
    expect(await provider.diff(keyId, refreshed, inputs)).to.deep.include({ changes: true, replaces: [] });
    // Once the key is back, the inputs a refresh records are the declared ones: no diff.
    const recovered = inputsOf(stateFor(declared).typed);
    expect(await provider.diff(keyId, recovered, inputs)).to.deep.include({ changes: false, replaces: [] });
  });

  for (const [name, value] of [
    ["keyUsage", "SIGN_VERIFY"],
    ["keySpec", "RSA_2048"],
    ["multiRegion", true],
  ] as const) {
    it(`replaces the key when ${name} changes`, async () => {
      const { inputs, outputs } = stateFor(declared);
      const diff = await provider.diff(keyId, outputs, { ...inputs, [name]: value });
      expect(diff.replaces).to.deep.equal([name]);
    });
  }

  it("replaces the key when its declared region changes, not when region is first declared", async () => {
    const { inputs, outputs } = stateFor({ ...declared, region: "us-east-1" });
    expect((await provider.diff(keyId, outputs, { ...inputs, region: "eu-west-1" })).replaces).to.deep.equal([
      "region",
    ]);
    const unset = stateFor(declared);
    expect(
      (await provider.diff(keyId, unset.outputs, { ...unset.inputs, region: "us-east-1" })).replaces,
    ).to.deep.equal([]);
  });

  for (const [name, value] of [
    ["description", "other"],
    ["tags", { team: "ledger" }],
    ["enabled", false],
    ["enableKeyRotation", true],
    ["deletionWindowInDays", 7],
    ["endpoint", "http://127.0.0.1:4566"],
  ] as const) {
    it(`updates in place when ${name} changes`, async () => {
      const { inputs, outputs } = stateFor(declared);
      const diff = await provider.diff(keyId, outputs, { ...inputs, [name]: value });
      expect(diff).to.deep.include({ changes: true, replaces: [] });
    });
  }

  it("compares policies as JSON values: formatting and key order make no diff", async () => {
    const { inputs, outputs } = stateFor(declared);
    const reformatted = '{\n  "Statement": [\n    { "Effect": "Allow" }\n  ]\n}';
    expect((await provider.diff(keyId, outputs, { ...inputs, policy: reformatted })).changes).to.equal(false);
    expect((await provider.diff(keyId, outputs, { ...inputs, policy: '{"Statement":[]}' })).changes).to.equal(true);
  });

  it("leaves an undeclared policy alone: no diff whatever the key has", async () => {
    const { inputs, outputs } = stateFor({ description: "x" });
    expect((await provider.diff(keyId, { ...outputs, policy: '{"Statement":[]}' }, inputs)).changes).to.equal(false);
  });

  it("treats tags as a map: order makes no diff", async () => {
    const { inputs, outputs } = stateFor({ tags: { a: "1", b: "2" } });
    expect((await provider.diff(keyId, outputs, { ...inputs, tags: { b: "2", a: "1" } })).changes).to.equal(false);
  });

  it("reports a change for values unknown during preview", async () => {
    const { inputs, outputs } = stateFor(declared);
    expect((await provider.diff(keyId, outputs, { ...inputs, description: UNKNOWN })).changes).to.equal(true);
  });
});
