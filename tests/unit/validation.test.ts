// check(): bad input is refused with the property named and what is allowed.
import { expect } from "chai";
import { KeyProvider } from "../../provider/key/provider";
import { parseKeyReference, UNKNOWN } from "../../provider/validation";
import { INVALID_INPUTS, INVALID_KEY_REFERENCES } from "../../testing/invalid-inputs";

const provider = new KeyProvider();

describe("check(): invalid inputs", () => {
  it("has a table of at least 40 invalid inputs", () => {
    expect(INVALID_INPUTS.length).to.be.at.least(40);
  });
  for (const row of INVALID_INPUTS) {
    it(`refuses ${row.name}, naming ${row.property}`, async () => {
      const result = await provider.check({}, row.inputs);
      expect(result.inputs, "no inputs for a failed check").to.equal(undefined);
      const failure = result.failures?.find((f) => f.property === row.property);
      expect(failure, `a failure for ${row.property} in ${JSON.stringify(result.failures)}`).to.not.equal(undefined);
      // A failure may name no property (so the engine doesn't print a value holding credentials); its reason still does.
      const named = row.property || Object.keys(row.inputs)[0];
      expect(failure!.reason).to.include(named.replace(/^tags$/, "tag"));
      expect(failure!.reason).to.match(row.allowed);
    });
  }
});

describe("check(): valid inputs", () => {
  it("fills in defaults and the key state the program asks for", async () => {
    const result = await provider.check({}, { description: "orders" });
    expect(result.failures).to.equal(undefined);
    expect(result.inputs).to.deep.include({
      description: "orders",
      keyUsage: "ENCRYPT_DECRYPT",
      keySpec: "SYMMETRIC_DEFAULT",
      enabled: true,
      multiRegion: false,
      enableKeyRotation: false,
      deletionWindowInDays: 30,
      keyState: "Enabled",
    });
    expect(result.inputs.tags).to.deep.equal({});
  });

  it("asks for Disabled when declared disabled, and a 365-day rotation period by default", async () => {
    const result = await provider.check({}, { enabled: false, enableKeyRotation: true });
    expect(result.inputs).to.deep.include({ keyState: "Disabled", rotationPeriodInDays: 365 });
  });

  it("accepts every input used sensibly", async () => {
    const result = await provider.check(
      {},
      {
        description: "d",
        keyUsage: "SIGN_VERIFY",
        keySpec: "ECC_NIST_P256",
        policy: JSON.stringify({ Version: "2012-10-17", Statement: [] }),
        tags: { "team name": "a", "cost-center": "1", "app/service": "x" },
        enabled: false,
        multiRegion: true,
        deletionWindowInDays: 7,
        bypassPolicyLockoutSafetyCheck: false,
        region: "eu-west-1",
        endpoint: "https://kms.eu-west-1.amazonaws.com",
      },
    );
    expect(result.failures).to.equal(undefined);
  });

  it("accepts plain http to loopback, and to another host only with allowInsecureEndpoint", async () => {
    for (const endpoint of ["http://127.0.0.1:4566", "http://localhost:4566", "http://[::1]:4566"]) {
      expect((await provider.check({}, { endpoint })).failures, endpoint).to.equal(undefined);
    }
    const remote = await provider.check({}, { endpoint: "http://kms.internal:8080", allowInsecureEndpoint: true });
    expect(remote.failures).to.equal(undefined);
  });

  it("does not echo credentials given in an endpoint", async () => {
    const result = await provider.check({}, { endpoint: "https://AKIADISTINCT:very-secret@kms.example.com" });
    expect(JSON.stringify(result.failures)).to.not.include("very-secret").and.not.include("AKIADISTINCT");
  });

  it("lets values unknown during preview through", async () => {
    const result = await provider.check({}, { deletionWindowInDays: UNKNOWN, policy: UNKNOWN, tags: { a: UNKNOWN } });
    expect(result.failures).to.equal(undefined);
  });
});

describe("key references for import", () => {
  it("accepts key IDs and key ARNs of any partition and service name", () => {
    const id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    for (const reference of [
      id,
      "mrk-1234abcd12ab34cd56ef1234567890ab",
      `arn:aws:kms:us-east-1:111122223333:key/${id}`,
      `arn:aws:verenc:111122223333:key/${id}`,
      `arn::verenc:111122223333:key/${id}`,
      `arn:aws-cn:kms:cn-north-1:111122223333:key/${id}`,
    ]) {
      const parsed = parseKeyReference(reference);
      expect(parsed, reference).to.have.property("keyId");
    }
    expect(parseKeyReference(`arn:aws:verenc:111122223333:key/${id}`)).to.deep.equal({ keyId: id });
  });
  for (const reference of INVALID_KEY_REFERENCES) {
    it(`refuses ${JSON.stringify(reference)} naming the value and what is allowed`, async () => {
      const parsed = parseKeyReference(reference);
      expect(parsed).to.have.property("error").that.includes(JSON.stringify(reference)).and.includes("key ARN");
      let error: Error | undefined;
      await provider.read(reference, {}).catch((err: Error) => (error = err));
      expect(error?.message).to.include("neither a key ID");
    });
  }
});
