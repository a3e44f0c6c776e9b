// diff() settles: states the provider can't change, reserved tags, equivalent policies and ignored inputs make no diff.
import { expect } from "chai";
import { changesOf, inputsOf, KeyProvider, outputsOf, withDefaults } from "../../provider/key/provider";
import { ObservedKey } from "../../provider/plan";

const provider = new KeyProvider();
const keyId = "1234abcd-12ab-34cd-56ef-1234567890ab";
type Props = Record<string, unknown>;

/** The state a refresh leaves: outputs and the inputs read() records, for a key observed as given. */
function refreshed(declared: Props, observed: Partial<ObservedKey>): { olds: Props; oldInputs: Props } {
  const inputs = withDefaults(declared);
  const key: ObservedKey = {
    keyId,
    arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
    keyState: "Enabled",
    description: inputs.description ?? "",
    keyUsage: "ENCRYPT_DECRYPT",
    keySpec: "SYMMETRIC_DEFAULT",
    multiRegion: false,
    origin: "AWS_KMS",
    keyManager: "CUSTOMER",
    policy: inputs.policy,
    enableKeyRotation: inputs.enableKeyRotation,
    rotationPeriodInDays: inputs.rotationPeriodInDays,
    tags: inputs.tags,
    unreadable: [],
    ...observed,
  };
  const outputs = outputsOf(inputs, key);
  return { olds: outputs as unknown as Props, oldInputs: inputsOf(outputs) };
}

/** What the engine does with ignoreChanges: the named inputs come from the old inputs, then check() runs. */
async function checkedWithIgnoreChanges(program: Props, oldInputs: Props, ignoreChanges: string[]): Promise<Props> {
  const news = { ...program };
  for (const name of ignoreChanges) news[name] = oldInputs[name];
  const checked = await provider.check(oldInputs, news);
  expect(checked.failures ?? []).to.deep.equal([]);
  return checked.inputs as Props;
}

describe("diff() settles", () => {
  it("a PendingImport key declared enabled: false shows no diff", async () => {
    const declared = { enabled: false };
    const { olds } = refreshed(declared, { keyState: "PendingImport", origin: "EXTERNAL" });
    expect(await provider.diff(keyId, olds, withDefaults(declared) as unknown as Props)).to.deep.include({
      changes: false,
    });
  });

  it("a PendingImport key declared enabled shows a diff (the update says how to give it key material)", async () => {
    const { olds } = refreshed({}, { keyState: "PendingImport", origin: "EXTERNAL" });
    expect((await provider.diff(keyId, olds, withDefaults({}) as unknown as Props)).changes).to.equal(true);
  });

  for (const state of ["Unavailable", "Creating", "Updating"]) {
    it(`an ${state} key whose declaration did not change shows no diff`, async () => {
      const { olds } = refreshed({ description: "x" }, { keyState: state });
      const diff = await provider.diff(keyId, olds, withDefaults({ description: "x" }) as unknown as Props);
      expect(diff.changes).to.equal(false);
    });
  }

  it("aws: tags on the key are no drift", async () => {
    const declared = { tags: { team: "a" } };
    const olds = { ...refreshed(declared, {}).olds, tags: { team: "a", "aws:cloudformation:stack-name": "s" } };
    expect((await provider.diff(keyId, olds, withDefaults(declared) as unknown as Props)).changes).to.equal(false);
  });

  it("a policy that differs only in form is no diff", async () => {
    const stored = '{"Statement":[{"Effect":"Allow","Principal":{"AWS":["b","a"]},"Action":"kms:*","Resource":"*"}]}';
    const declared = '{"Statement":{"Effect":"Allow","Principal":{"AWS":["a","b"]},"Action":["kms:*"],"Resource":"*"}}';
    const { olds } = refreshed({ policy: stored }, {});
    expect((await provider.diff(keyId, olds, withDefaults({ policy: declared }) as unknown as Props)).changes).to.equal(
      false,
    );
  });

  it("ignoreChanges tags after a refresh: tags added by another tool make no diff", async () => {
    const program = { description: "d" };
    const { olds, oldInputs } = refreshed(program, { tags: { "abac-project": "blue" } });
    const news = await checkedWithIgnoreChanges(program, oldInputs, ["tags"]);
    expect((await provider.diff(keyId, olds, news)).changes).to.equal(false);
  });

  it("ignoreChanges enabled after a refresh: a key disabled out of band makes no diff", async () => {
    const program = { description: "d" };
    const { olds, oldInputs } = refreshed(program, { keyState: "Disabled" });
    const news = await checkedWithIgnoreChanges(program, oldInputs, ["enabled"]);
    expect(news).to.include({ enabled: false, keyState: "Disabled" });
    expect((await provider.diff(keyId, olds, news)).changes).to.equal(false);
  });

  it("ignoreChanges keyState: a key pending deletion or disabled is left to others, enabled included", async () => {
    const program = { description: "d", enabled: true };
    for (const keyState of ["PendingDeletion", "Disabled"]) {
      const { olds, oldInputs } = refreshed(program, { keyState });
      const news = await checkedWithIgnoreChanges(program, oldInputs, ["keyState"]);
      expect(news).to.include({ keyState, keyStateIgnored: true });
      expect((await provider.diff(keyId, olds, news)).changes, keyState).to.equal(false);
      expect(changesOf(olds, { ...news, description: "new" })).to.deep.equal({
        changed: new Set(["description"]),
        keyStateManaged: false,
      });
    }
  });

  it("without ignoreChanges a key pending deletion is still a diff, and only the parts that differ are in scope", () => {
    const program = { description: "d", tags: { a: "1" } };
    const { olds } = refreshed(program, { keyState: "PendingDeletion", tags: { a: "1" } });
    const scope = changesOf(olds, withDefaults(program) as unknown as Props);
    expect(scope).to.deep.equal({ changed: new Set(["enabled"]), keyStateManaged: true });
  });
});

describe("null inputs mean absent ones", () => {
  for (const name of ["region", "policy", "rotationPeriodInDays", "description", "tags", "endpoint", "keySpec"]) {
    it(`${name}: null passes check as if left out, and the key's diff settles`, async () => {
      const declared = { enableKeyRotation: true, [name]: null };
      const checked = await provider.check({}, declared);
      expect(checked.failures ?? []).to.deep.equal([]);
      const inputs = checked.inputs as Props;
      expect(inputs).to.deep.equal((await provider.check({}, { enableKeyRotation: true })).inputs);
      const { olds } = refreshed({ enableKeyRotation: true }, {});
      const diff = await provider.diff(keyId, olds, inputs);
      expect(diff).to.deep.include({ changes: false, replaces: [] });
    });
  }
});

describe("an import with a declared Region", () => {
  const arn = `arn:aws:kms:eu-west-1:111122223333:key/${keyId}`;

  it("that disagrees with the key's ARN is refused by check, naming both Regions", async () => {
    const checked = await provider.check({}, { importKeyId: arn, region: "us-east-1" });
    expect(checked.failures).to.have.length(1);
    expect(checked.failures![0].property).to.equal("region");
    expect(checked.failures![0].reason).to.include('region is "us-east-1"').and.include('"eu-west-1"');
  });

  it("that agrees with it, or is left out, or is unknown during preview, passes", async () => {
    for (const region of ["eu-west-1", undefined, "04da6b54-80e4-46f7-96ec-b56ff0331ba9"]) {
      expect((await provider.check({}, { importKeyId: arn, region })).failures ?? []).to.deep.equal([]);
    }
  });
});
