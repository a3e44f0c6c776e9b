// Pure parts of addressing a key by its ARN: parsing, where calls go, what a person may type, what diff decides.
import { expect } from "chai";
import { desiredKey } from "../../provider/inputs";
import { addressOf, bareKeyId, parseKeyArn } from "../../provider/keyAddress";
import { diffKey } from "../../provider/key/provider";
import { ObservedKey, planUpdate } from "../../provider/plan";
import { parseKeyReference } from "../../provider/validation";

const ID = "1234abcd-12ab-34cd-56ef-1234567890ab";
const MOTO_MRK = "mrk-1d2c4e5f-0a1b-4c2d-8e3f-a1b2c3d4e5f6";
const ARN = `arn:aws:kms:eu-west-1:111122223333:key/${ID}`;

describe("key ARNs", () => {
  it("parses every form KMS-compatible services use: any partition and service, Region optional", () => {
    expect(parseKeyArn(ARN)).to.deep.equal({
      arn: ARN,
      partition: "aws",
      service: "kms",
      region: "eu-west-1",
      account: "111122223333",
      keyId: ID,
    });
    expect(parseKeyArn(`arn:aws:verenc:111122223333:key/${ID}`)).to.include({ service: "verenc", region: "" });
    expect(parseKeyArn(`arn::verenc:111122223333:key/${ID}`)).to.include({ partition: "", keyId: ID });
    expect(parseKeyArn(`arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/${MOTO_MRK}`)).to.include({
      partition: "aws-us-gov",
      keyId: MOTO_MRK,
    });
  });

  it("is not fooled by aliases, short accounts or bare IDs", () => {
    expect(parseKeyArn("arn:aws:kms:us-east-1:111122223333:alias/orders")).to.equal(undefined);
    expect(parseKeyArn(`arn:aws:kms:us-east-1:1111:key/${ID}`)).to.equal(undefined);
    expect(parseKeyArn(ID)).to.equal(undefined);
    expect(parseKeyArn(undefined)).to.equal(undefined);
    expect(bareKeyId(ARN)).to.equal(ID);
    expect(bareKeyId(ID)).to.equal(ID);
  });
});

describe("where calls about a tracked key go", () => {
  it("to the ARN's Region, by the ARN, whatever the region input says", () => {
    const address = addressOf(ID, { arn: ARN, region: "us-east-1", endpoint: "https://kms.example" });
    expect(address.reference).to.equal(ARN);
    expect(address.connection).to.deep.include({ region: "eu-west-1", endpoint: "https://kms.example" });
    expect(address.runConnection.region).to.equal("us-east-1");
    expect(address.arn?.account).to.equal("111122223333");
  });

  it("by the ID in the run's Region for a state without a usable ARN (older states, ARNs without a Region)", () => {
    for (const arn of [undefined, "", `arn:aws:verenc:111122223333:key/${ID}`, ARN.replace(ID, "another-key")]) {
      const address = addressOf(ID, { arn, region: "us-east-1" });
      expect(address.reference, String(arn)).to.equal(ID);
      expect(address.arn).to.equal(undefined);
      expect(address.connection.region).to.equal("us-east-1");
    }
  });

  it("to the Region of an ARN given as the id (a hand-made state, KmsKey.get, the import option)", () => {
    const address = addressOf(ARN, {});
    expect(address).to.deep.include({ reference: ARN, keyId: ID });
    expect(address.connection.region).to.equal("eu-west-1");
  });
});

describe("key IDs and ARNs a person types", () => {
  it("accepts moto's multi-Region IDs (mrk- and a dashed UUID), bare or in an ARN", () => {
    expect(parseKeyReference(MOTO_MRK)).to.deep.equal({ keyId: MOTO_MRK });
    expect(parseKeyReference(`arn:aws:kms:us-east-1:111122223333:key/${MOTO_MRK}`)).to.deep.equal({ keyId: MOTO_MRK });
  });

  it("says why an alias is refused", () => {
    const parsed = parseKeyReference("alias/orders");
    expect(parsed).to.have.property("error").that.includes("an alias names a key only until it is moved");
  });
});

describe("diff of the region and of the import option", () => {
  const olds = { keyId: ID, arn: ARN, keyUsage: "ENCRYPT_DECRYPT", keySpec: "SYMMETRIC_DEFAULT", multiRegion: false };
  const news = { keyUsage: "ENCRYPT_DECRYPT", keySpec: "SYMMETRIC_DEFAULT", multiRegion: false };

  it("declaring the key's own Region on a key made without one is no replacement", () => {
    const diff = diffKey(olds, { ...news, region: "eu-west-1" });
    expect(diff.replaces).to.deep.equal([]);
    expect(diff.changes).to.equal(true); // the region input is recorded
  });

  it("declaring another Region than the key's asks for a new key", () => {
    expect(diffKey(olds, { ...news, region: "us-east-1" }).replaces).to.deep.equal(["region"]);
    // Even when the state's region input (stale) agrees with the declaration: the ARN says where the key is.
    expect(diffKey({ ...olds, region: "us-east-1" }, { ...news, region: "us-east-1" }).replaces).to.deep.equal([
      "region",
    ]);
  });

  it("a replacement while the import option names this very key fails, saying to remove the option", () => {
    const change = { ...news, keySpec: "RSA_2048", importKeyId: ARN };
    expect(() => diffKey(olds, change)).to.throw(
      `keySpec changed, which needs a new key, but the import option still names KMS key ${ID}`,
    );
    // Without a replacement, the option left in place is harmless.
    expect(diffKey(olds, { ...news, importKeyId: ARN }).replaces).to.deep.equal([]);
  });
});

describe("a multi-Region replica's rotation", () => {
  const replica: ObservedKey = {
    keyId: "mrk-1234abcd12ab34cd56ef1234567890ab",
    arn: "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    keyState: "Enabled",
    description: "",
    keyUsage: "ENCRYPT_DECRYPT",
    keySpec: "SYMMETRIC_DEFAULT",
    multiRegion: true,
    multiRegionKeyType: "REPLICA",
    origin: "AWS_KMS",
    keyManager: "CUSTOMER",
    enableKeyRotation: true,
    rotationPeriodInDays: 180,
    tags: {},
    unreadable: [],
  };

  it("is never changed by a call: a different declaration is refused, naming what the replica has", () => {
    for (const declared of [{ enableKeyRotation: false }, { enableKeyRotation: true, rotationPeriodInDays: 365 }]) {
      const plan = planUpdate(desiredKey({ multiRegion: true, ...declared }), replica);
      expect(plan.actions.map((a) => a.kind)).to.not.include.members(["enableRotation", "disableRotation"]);
      expect(plan.refusal).to.include("declare enableKeyRotation: true and rotationPeriodInDays: 180 here");
    }
  });

  it("as declared, or unreadable, plans nothing and refuses nothing", () => {
    const asIs = planUpdate(
      desiredKey({ multiRegion: true, enableKeyRotation: true, rotationPeriodInDays: 180 }),
      replica,
    );
    expect(asIs).to.deep.equal({ actions: [], refusal: undefined });
    const unreadable = planUpdate(desiredKey({ multiRegion: true }), { ...replica, enableKeyRotation: undefined });
    expect(unreadable).to.deep.equal({ actions: [], refusal: undefined });
  });

  it("a primary key's rotation is still managed", () => {
    const plan = planUpdate(desiredKey({ multiRegion: true }), { ...replica, multiRegionKeyType: "PRIMARY" });
    expect(plan.actions).to.deep.equal([{ kind: "disableRotation" }]);
  });
});
