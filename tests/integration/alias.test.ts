// KmsAlias's provider against moto's KMS server, behind the proxy that applies KMS's rules moto leaves out (an alias
// can't be pointed at a key pending deletion; ListAliases answers in pages; a key's aliases go with it).
import { expect } from "chai";
import {
  CreateAliasCommand,
  DeleteAliasCommand,
  KMSClient,
  paginateListAliases,
  UpdateAliasCommand,
} from "@aws-sdk/client-kms";
import { AliasProvider } from "../../provider/alias/provider";
import { ProviderSession } from "../../provider/session";
import { FAKE_CREDENTIALS } from "../../testing/credentials";
import { MOTO_DEFAULT_ACCOUNT } from "../../testing/kms/accounts";
import { Props, useLocalKms } from "../../testing/kms/local-kms";
import { outOfBand, scheduleDeletion } from "../../testing/kms/out-of-band";

describe("KmsAlias against a KMS server", function () {
  this.timeout(120_000);
  const kms = useLocalKms();
  let provider: AliasProvider;
  let warnings: string[];
  const warn = console.warn;

  // A session per test: one test's listing of the aliases (reused for 10 s) is never another's.
  beforeEach(() => {
    provider = new AliasProvider(new ProviderSession());
    warnings = [];
    console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  });
  afterEach(() => {
    console.warn = warn;
  });

  const operations = () => kms.proxy.callLog.map((call) => call.operation);

  async function checked(news: Props): Promise<Props> {
    const result = await provider.check({}, { endpoint: kms.endpoint, ...news });
    expect(result.failures, JSON.stringify(result.failures)).to.equal(undefined);
    return result.inputs as Props;
  }

  async function createAlias(news: Props): Promise<{ id: string; inputs: Props; outs: Props }> {
    const inputs = await checked(news);
    const created = await provider.create(inputs);
    return { id: created.id, inputs, outs: created.outs as Props };
  }

  async function newKey(region?: string): Promise<{ keyId: string; arn: string }> {
    const { outs } = await kms.newKey({ description: "alias target", ...(region ? { region } : {}) });
    return { keyId: outs.keyId as string, arn: outs.arn as string };
  }

  /** Where each alias points, as KMS has it (every page). */
  async function aliasTargets(client: KMSClient = kms.raw): Promise<Record<string, string | undefined>> {
    const targets: Record<string, string | undefined> = {};
    for await (const page of paginateListAliases({ client, pageSize: 100 }, {})) {
      for (const alias of page.Aliases ?? []) targets[alias.AliasName!] = alias.TargetKeyId;
    }
    return targets;
  }

  /** Made behind the program's back. */
  const outOfBandAlias = (name: string, keyId: string) =>
    kms.raw.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: keyId }));

  it("creates an alias of a key given by ID: one DescribeKey (the key's ARN), one CreateAlias; outputs the alias and its key", async () => {
    const key = await newKey();
    kms.proxy.resetCounts();
    const { id, outs } = await createAlias({ name: "alias/orders", targetKeyId: key.keyId });
    expect(operations()).to.deep.equal(["DescribeKey", "CreateAlias"]);
    expect(id).to.equal("alias/orders");
    expect(outs).to.deep.equal({
      name: "alias/orders",
      targetKeyId: key.keyId,
      arn: `arn:aws:kms:us-east-1:${MOTO_DEFAULT_ACCOUNT}:alias/orders`,
      targetKeyArn: key.arn,
      endpoint: kms.endpoint,
    });
    expect((await aliasTargets())["alias/orders"]).to.equal(key.keyId);
  });

  it("creates an alias of a key given by ARN with CreateAlias alone, in the key's Region", async () => {
    const key = await newKey("eu-west-1");
    kms.proxy.resetCounts();
    const { outs } = await createAlias({ name: "alias/in-ireland", targetKeyId: key.arn });
    expect(operations()).to.deep.equal(["CreateAlias"]);
    expect(outs).to.include({
      targetKeyId: key.arn,
      targetKeyArn: key.arn,
      arn: `arn:aws:kms:eu-west-1:${MOTO_DEFAULT_ACCOUNT}:alias/in-ireland`,
    });
    const ireland = outOfBand(kms.endpoint, "eu-west-1");
    expect((await aliasTargets(ireland))["alias/in-ireland"]).to.equal(key.keyId);
    expect(await aliasTargets(), "nothing in the run's own Region").to.not.have.property("alias/in-ireland");
    ireland.destroy();
  });

  it("repointed out of band: the refresh shows the other key, diff plans an update (not a replacement), and the update points it back with one UpdateAlias", async () => {
    const [key, other] = [await newKey(), await newKey()];
    const { id, inputs, outs } = await createAlias({ name: "alias/repointed", targetKeyId: key.keyId });
    await kms.raw.send(new UpdateAliasCommand({ AliasName: "alias/repointed", TargetKeyId: other.keyId }));

    kms.proxy.resetCounts();
    const read = await provider.read(id, outs);
    expect(operations()).to.deep.equal(["ListAliases"]);
    expect(read.props).to.include({ targetKeyId: other.keyId, targetKeyArn: other.arn });
    expect(read.inputs, "the refreshed inputs show the drift").to.include({ targetKeyId: other.keyId });
    expect(read.inputs).to.not.have.property("targetKeyArn");

    const diff = await provider.diff(id, read.props!, inputs);
    expect(diff).to.deep.include({ changes: true, replaces: [] });

    kms.proxy.resetCounts();
    const updated = await provider.update(id, read.props!, inputs);
    expect(operations()).to.deep.equal(["UpdateAlias"]);
    expect(updated.outs).to.include({ targetKeyId: key.keyId, targetKeyArn: key.arn });
    expect((await aliasTargets())["alias/repointed"]).to.equal(key.keyId);
    expect(await provider.diff(id, updated.outs!, inputs)).to.deep.include({ changes: false });
  });

  it("declared by key ARN: no change while the alias points at that key (KMS reports its ID); repointed, the refresh shows the other key's ARN", async () => {
    const [key, other] = [await newKey(), await newKey()];
    const { id, inputs, outs } = await createAlias({ name: "alias/by-arn", targetKeyId: key.arn });
    const unchanged = await provider.read(id, outs);
    expect(unchanged.props).to.include({ targetKeyId: key.arn });
    expect(await provider.diff(id, unchanged.props!, inputs)).to.deep.include({ changes: false, replaces: [] });

    await kms.raw.send(new UpdateAliasCommand({ AliasName: "alias/by-arn", TargetKeyId: other.keyId }));
    const drifted = await new AliasProvider(new ProviderSession()).read(id, unchanged.props!);
    expect(drifted.inputs).to.include({ targetKeyId: other.arn });
    expect(await provider.diff(id, drifted.props!, inputs)).to.deep.include({ changes: true, replaces: [] });
  });

  it("deleted out of band: the read answers {} (the engine drops it), and a create makes it again", async () => {
    const key = await newKey();
    const { id, inputs, outs } = await createAlias({ name: "alias/deleted", targetKeyId: key.keyId });
    await kms.raw.send(new DeleteAliasCommand({ AliasName: "alias/deleted" }));
    kms.proxy.resetCounts();
    expect(await provider.read(id, outs)).to.deep.equal({});
    expect(operations(), "the listing is of the alias's account: nothing else to ask").to.deep.equal(["ListAliases"]);
    await provider.create(inputs);
    expect((await aliasTargets())["alias/deleted"]).to.equal(key.keyId);
  });

  it("a fleet of 20 aliases refreshed at once: one ListAliases in all, and every alias read right", async () => {
    const keys = [await newKey(), await newKey()];
    const fleet = await Promise.all(
      Array.from({ length: 20 }, (_, i) => createAlias({ name: `alias/fleet-${i}`, targetKeyId: keys[i % 2].keyId })),
    );
    await kms.raw.send(new UpdateAliasCommand({ AliasName: "alias/fleet-3", TargetKeyId: keys[0].keyId }));
    const refreshing = new AliasProvider(new ProviderSession());
    kms.proxy.resetCounts();
    const reads = await Promise.all(fleet.map(({ id, outs }) => refreshing.read(id, outs)));
    expect(operations()).to.deep.equal(["ListAliases"]);
    reads.forEach((read, i) => {
      const expected = i === 3 ? keys[0] : keys[i % 2];
      expect(read.props, `alias/fleet-${i}`).to.include({ name: `alias/fleet-${i}`, targetKeyArn: expected.arn });
    });
  });

  it("follows ListAliases' pages: among 150 aliases, one on the last page is found, in pages of 100", async () => {
    const key = await newKey();
    const { id, outs } = await createAlias({ name: "alias/zz-last-page", targetKeyId: key.keyId });
    for (let i = 0; i < 150; i++) await outOfBandAlias(`alias/bulk-${String(i).padStart(3, "0")}`, key.keyId);
    const total = Object.keys(await aliasTargets()).length;
    kms.proxy.resetCounts();
    const read = await provider.read(id, outs);
    expect(read.props).to.include({ targetKeyArn: key.arn });
    expect(kms.proxy.calls("ListAliases")).to.equal(Math.ceil(total / 100));
    expect(kms.proxy.calls("ListAliases")).to.be.at.least(2);
    for (let i = 0; i < 150; i++) {
      await kms.raw.send(new DeleteAliasCommand({ AliasName: `alias/bulk-${String(i).padStart(3, "0")}` }));
    }
  });

  it("takes over an alias left on a key pending deletion: UpdateAlias to the declared key, says so, outputs the declared key", async () => {
    const [old, key] = [await newKey(), await newKey()];
    await outOfBandAlias("alias/left-behind", old.keyId);
    await scheduleDeletion(kms.raw, old.keyId);
    kms.proxy.resetCounts();
    const { outs } = await createAlias({ name: "alias/left-behind", targetKeyId: key.keyId });
    expect(operations()).to.deep.equal(["DescribeKey", "CreateAlias", "DescribeKey", "UpdateAlias"]);
    expect(kms.proxy.callLog[1].error).to.equal("AlreadyExistsException");
    expect(outs).to.include({ targetKeyId: key.keyId, targetKeyArn: key.arn });
    expect((await aliasTargets())["alias/left-behind"]).to.equal(key.keyId);
    expect(warnings.join("\n")).to.include("alias/left-behind").and.include(old.arn).and.include("PendingDeletion");
  });

  it("refuses an alias that points at a live key the program does not name: names the key and the import option, changes nothing", async () => {
    const [theirs, key] = [await newKey(), await newKey()];
    await outOfBandAlias("alias/taken", theirs.keyId);
    kms.proxy.resetCounts();
    const inputs = await checked({ name: "alias/taken", targetKeyId: key.keyId });
    const error = await provider.create(inputs).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).to.include(`points at KMS key ${theirs.arn} (Enabled)`);
    expect(error?.message).to.include('{ import: "alias/taken" }');
    expect(kms.proxy.writes(), "CreateAlias was refused; nothing else changed").to.deep.equal(["CreateAlias"]);
    expect((await aliasTargets())["alias/taken"]).to.equal(theirs.keyId);
    expect(error).to.not.have.property("id");
  });

  it("refuses an alias that already points at the declared key but that this program did not make, also after a throttled attempt", async () => {
    const key = await newKey();
    await outOfBandAlias("alias/someone-elses", key.keyId);
    const inputs = await checked({ name: "alias/someone-elses", targetKeyId: key.keyId });
    // A throttled attempt was answered (400): KMS made nothing for it, so the alias found is not this create's.
    kms.proxy.addFault({ operation: "CreateAlias", kind: "throttle", times: 1 });
    kms.proxy.resetCounts();
    const error = await provider.create(inputs).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(kms.proxy.callLog.filter((c) => c.operation === "CreateAlias").map((c) => c.error)).to.deep.equal([
      "ThrottlingException",
      "AlreadyExistsException",
    ]);
    expect(error?.message).to.include("the declared target, but this program did not make it");
    expect(error?.message).to.include('{ import: "alias/someone-elses" }');
  });

  it("the import option adopts an alias on a live key and points it at the declared key; a missing alias is refused", async () => {
    const [theirs, key] = [await newKey(), await newKey()];
    await outOfBandAlias("alias/adopted", theirs.keyId);
    kms.proxy.resetCounts();
    const { id, outs } = await createAlias({
      name: "alias/adopted",
      targetKeyId: key.arn,
      importAliasName: "alias/adopted",
    });
    expect(operations()).to.deep.equal(["DescribeKey", "UpdateAlias"]);
    expect(id).to.equal("alias/adopted");
    expect(outs).to.include({
      targetKeyArn: key.arn,
      arn: `arn:aws:kms:us-east-1:${MOTO_DEFAULT_ACCOUNT}:alias/adopted`,
    });
    expect(outs).to.not.have.property("importAliasName");
    expect((await aliasTargets())["alias/adopted"]).to.equal(key.keyId);

    const missing = await checked({ name: "alias/nowhere", targetKeyId: key.arn, importAliasName: "alias/nowhere" });
    const error = await provider.create(missing).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).to.include("cannot import alias alias/nowhere: KMS has no alias alias/nowhere");
  });

  it("deletes with DeleteAlias; an alias already gone is done (the run's account is the alias's)", async () => {
    const key = await newKey();
    const { id, outs } = await createAlias({ name: "alias/deleting", targetKeyId: key.keyId });
    kms.proxy.resetCounts();
    await provider.delete(id, outs);
    expect(operations()).to.deep.equal(["DeleteAlias"]);
    expect(await aliasTargets()).to.not.have.property("alias/deleting");
    kms.proxy.resetCounts();
    await provider.delete(id, outs);
    expect(operations()).to.deep.equal(["DeleteAlias", "GetCallerIdentity"]);
    expect(kms.proxy.callLog[0].error).to.equal("NotFoundException");
  });

  it("an update of an alias deleted out of band makes it again under its name, and says so", async () => {
    const [key, other] = [await newKey(), await newKey()];
    const { id, inputs, outs } = await createAlias({ name: "alias/recreated", targetKeyId: key.keyId });
    await kms.raw.send(new DeleteAliasCommand({ AliasName: "alias/recreated" }));
    kms.proxy.resetCounts();
    const updated = await provider.update(id, outs, { ...inputs, targetKeyId: other.keyId });
    expect(operations()).to.deep.equal(["UpdateAlias", "DescribeKey", "CreateAlias"]);
    expect(updated.outs).to.include({ targetKeyId: other.keyId, arn: outs.arn });
    expect((await aliasTargets())["alias/recreated"]).to.equal(other.keyId);
    expect(warnings.join("\n")).to.include("alias/recreated was gone");
  });

  it("a target key pending deletion: KMS refuses CreateAlias, and the error says why in plain words", async () => {
    const key = await newKey();
    await scheduleDeletion(kms.raw, key.keyId);
    const inputs = await checked({ name: "alias/on-pending", targetKeyId: key.arn });
    const error = await provider.create(inputs).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).to.match(
      /^CreateAlias needs KMS key .* to be Enabled, Disabled.*; KMS says: .*pending deletion/,
    );
    expect(await aliasTargets()).to.not.have.property("alias/on-pending");
  });

  for (const kind of ["internalAfter", "resetAfter"] as const) {
    it(`a lost answer (${kind}): CreateAlias made the alias, the SDK's retry finds it pointing at the declared key, and it is this create's`, async () => {
      const key = await newKey();
      const name = `alias/lost-answer-${kind}`;
      kms.proxy.addFault({ operation: "CreateAlias", kind, times: 1 });
      kms.proxy.resetCounts();
      const { outs } = await createAlias({ name, targetKeyId: key.arn });
      expect(operations()).to.deep.equal(["CreateAlias", "CreateAlias", "DescribeKey"]);
      expect(kms.proxy.callLog[1].error).to.equal("AlreadyExistsException");
      expect(outs).to.include({ targetKeyArn: key.arn });
      expect((await aliasTargets())[name]).to.equal(key.keyId);
    });
  }

  it("a lost answer, and the alias can't be looked at: the error carries the alias's id and properties, so the engine tracks it", async () => {
    const key = await newKey();
    process.env.AWS_MAX_ATTEMPTS = "2";
    try {
      kms.proxy.addFault({ operation: "CreateAlias", kind: "internalAfter", times: 1 });
      kms.proxy.addFault({ operation: "DescribeKey", keyId: "alias/untracked", kind: "internal" });
      const inputs = await checked({ name: "alias/untracked", targetKeyId: key.arn });
      const error = (await provider.create(inputs).then(
        () => undefined,
        (err: Error) => err,
      )) as (Error & { id?: string; properties?: Props }) | undefined;
      expect(error?.id).to.equal("alias/untracked");
      expect(error?.properties).to.include({ name: "alias/untracked", targetKeyArn: key.arn });
      expect((await aliasTargets())["alias/untracked"], "it exists: the engine must know it").to.equal(key.keyId);
    } finally {
      delete process.env.AWS_MAX_ATTEMPTS;
    }
  });

  it("reads an alias nobody manages (KmsAlias.get): by name in the run's Region, by ARN in its own; a missing one is an error", async () => {
    const key = await newKey();
    const ireland = await newKey("eu-west-1");
    await outOfBandAlias("alias/read-only", key.keyId);
    const irish = outOfBand(kms.endpoint, "eu-west-1");
    await irish.send(new CreateAliasCommand({ AliasName: "alias/read-only", TargetKeyId: ireland.keyId }));
    irish.destroy();
    kms.proxy.resetCounts();
    const byName = await provider.read("alias/read-only", { endpoint: kms.endpoint });
    expect(byName.props).to.include({ targetKeyId: key.keyId, targetKeyArn: key.arn });
    const arn = `arn:aws:kms:eu-west-1:${MOTO_DEFAULT_ACCOUNT}:alias/read-only`;
    const byArn = await provider.read(arn, { endpoint: kms.endpoint });
    expect(byArn).to.deep.include({ id: "alias/read-only" });
    expect(byArn.props).to.include({ arn, targetKeyId: ireland.keyId, targetKeyArn: ireland.arn });
    expect(kms.proxy.writes()).to.deep.equal([]);

    const error = await provider.read("alias/not-there", { endpoint: kms.endpoint }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).to.include(`KMS has no alias alias/not-there in account ${MOTO_DEFAULT_ACCOUNT}`);
    const bad = await provider.read("orders", {}).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(bad?.message).to.include('"orders" is neither an alias name (alias/...) nor an alias ARN');
  });

  it("an alias whose key's waiting period ended is gone with it: the read answers {}, and a create makes it anew", async () => {
    const [old, key] = [await newKey(), await newKey()];
    const { id, outs } = await createAlias({ name: "alias/with-its-key", targetKeyId: old.keyId });
    await scheduleDeletion(kms.raw, old.keyId);
    kms.proxy.deleteKeyAfter(old.keyId, 0);
    expect(await provider.read(id, outs)).to.deep.equal({});
    kms.proxy.resetCounts();
    const { outs: again } = await createAlias({ name: "alias/with-its-key", targetKeyId: key.keyId });
    expect(kms.proxy.writes()).to.deep.equal(["CreateAlias"]);
    expect(again).to.include({ targetKeyArn: key.arn });
  });

  it("under another account's credentials, an alias not in the listing is not taken for gone: read and delete fail, naming both accounts", async () => {
    const key = await newKey();
    const { id, outs } = await createAlias({ name: "alias/other-account", targetKeyId: key.keyId });
    kms.proxy.mapAccessKey(FAKE_CREDENTIALS.accessKeyId, "210987654321");
    try {
      for (const call of [() => provider.read(id, outs), () => provider.delete(id, outs)]) {
        const error = await call().then(
          () => undefined,
          (err: Error) => err,
        );
        expect(error?.message).to.include(`is in account ${MOTO_DEFAULT_ACCOUNT}`).and.include("account 210987654321");
        expect(error?.message).to.include("it stays in the stack, unchanged");
      }
    } finally {
      kms.proxy.mapAccessKey(FAKE_CREDENTIALS.accessKeyId, MOTO_DEFAULT_ACCOUNT);
    }
    expect((await aliasTargets())["alias/other-account"]).to.equal(key.keyId);
  });
});
