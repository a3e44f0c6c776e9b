// Policies compared as IAM compares them: a table of equivalent and different pairs.
import { expect } from "chai";
import { policiesEquivalent } from "../../provider/policy";

const ROLES = ["sultan", "mercedes", "jasmine", "aladdin", "iago"].map(
  (name) => `arn:aws:iam::111122223333:role/tf-acc-test-${name}`,
);

/** A KMS key policy with a second statement shaped by `second`, as terraform-provider-aws's acceptance tests build it. */
function keyPolicy(second: Record<string, unknown>, first: Record<string, unknown> = {}): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Id: "kms-tf-1",
    Statement: [
      {
        Sid: "Enable IAM User Permissions",
        Effect: "Allow",
        Principal: { AWS: "*" },
        Action: "kms:*",
        Resource: "*",
        ...first,
      },
      {
        Sid: "Enable IAM User Permissions",
        Effect: "Allow",
        Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
        Resource: "*",
        ...second,
      },
    ],
  });
}

type Row = [string, string, string, boolean];
// [case, declared, as KMS hands it back, equivalent?]
const rows: Row[] = [
  [
    "terraform Policy_iamRoleOrder: principals listed in another order",
    keyPolicy({ Principal: { AWS: ROLES } }),
    keyPolicy({ Principal: { AWS: [ROLES[3], ROLES[0], ROLES[4], ROLES[2], ROLES[1]] } }),
    true,
  ],
  [
    'terraform Policy_booleanCondition: Bool condition true against "true"',
    keyPolicy({
      Principal: { AWS: "arn:aws:iam::111122223333:root" },
      Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
    }),
    keyPolicy({
      Principal: { AWS: "arn:aws:iam::111122223333:root" },
      Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
    }),
    true,
  ],
  [
    "a one-element principal list against a plain string",
    keyPolicy({ Principal: { AWS: [ROLES[0]] } }),
    keyPolicy({ Principal: { AWS: ROLES[0] } }),
    true,
  ],
  ['"*" against {"AWS": "*"}', keyPolicy({}, { Principal: "*" }), keyPolicy({}, { Principal: { AWS: "*" } }), true],
  [
    "an account ID against its root ARN",
    keyPolicy({ Principal: { AWS: "111122223333" } }),
    keyPolicy({ Principal: { AWS: "arn:aws:iam::111122223333:root" } }),
    true,
  ],
  [
    "numbers against strings in conditions",
    keyPolicy({ Principal: "*", Condition: { NumericLessThan: { "kms:GrantConstraintType": 3 } } }),
    keyPolicy({ Principal: "*", Condition: { NumericLessThan: { "kms:GrantConstraintType": "3" } } }),
    true,
  ],
  [
    "condition values in another order, a one-element list, and condition key case",
    keyPolicy({
      Principal: "*",
      Condition: {
        StringEquals: { "kms:ViaService": ["b.amazonaws.com", "a.amazonaws.com"], "aws:PrincipalTag/Team": ["x"] },
      },
    }),
    keyPolicy({
      Principal: "*",
      Condition: {
        StringEquals: { "aws:principaltag/team": "x", "kms:ViaService": ["a.amazonaws.com", "b.amazonaws.com"] },
      },
    }),
    true,
  ],
  [
    "Action and Resource lists in another order, action names in another case",
    keyPolicy({ Principal: "*", Resource: ["b", "a"] }),
    keyPolicy({
      Principal: "*",
      Resource: ["a", "b"],
      Action: ["kms:describekey", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
    }),
    true,
  ],
  [
    "statements in another order, formatting and member order",
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"kms:Delete*","Resource":"*"}]}',
    '{\n  "Statement": [\n    {"Resource": "*", "Action": "kms:Delete*", "Principal": "*", "Effect": "Deny"},\n    {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["kms:*"], "Resource": ["*"]}\n  ],\n  "Version": "2012-10-17"\n}',
    true,
  ],
  [
    "Statement as an object against a one-element array",
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}',
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}',
    true,
  ],
  [
    "an empty Sid against none",
    '{"Statement":[{"Sid":"","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}',
    '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}',
    true,
  ],
  [
    "a different principal",
    keyPolicy({ Principal: { AWS: ROLES[0] } }),
    keyPolicy({ Principal: { AWS: ROLES[1] } }),
    false,
  ],
  [
    "a principal list missing one",
    keyPolicy({ Principal: { AWS: ROLES } }),
    keyPolicy({ Principal: { AWS: ROLES.slice(1) } }),
    false,
  ],
  [
    "a Bool condition true against false",
    keyPolicy({ Principal: "*", Condition: { Bool: { "kms:GrantIsForAWSResource": true } } }),
    keyPolicy({ Principal: "*", Condition: { Bool: { "kms:GrantIsForAWSResource": "false" } } }),
    false,
  ],
  [
    "a different condition operator",
    keyPolicy({ Principal: "*", Condition: { StringEquals: { "kms:ViaService": "a" } } }),
    keyPolicy({ Principal: "*", Condition: { StringLike: { "kms:ViaService": "a" } } }),
    false,
  ],
  ["Allow against Deny", keyPolicy({ Principal: "*" }), keyPolicy({ Principal: "*", Effect: "Deny" }), false],
  [
    "Resource against NotResource",
    keyPolicy({ Principal: "*" }),
    keyPolicy({ Principal: "*", Resource: undefined, NotResource: "*" }),
    false,
  ],
  ["a different Version", '{"Version":"2012-10-17","Statement":[]}', '{"Version":"2008-10-17","Statement":[]}', false],
  ["a different Id", keyPolicy({ Principal: "*" }), keyPolicy({ Principal: "*" }).replace("kms-tf-1", "other"), false],
  [
    "one statement more",
    '{"Statement":[{"Effect":"Allow"}]}',
    '{"Statement":[{"Effect":"Allow"},{"Effect":"Deny"}]}',
    false,
  ],
  [
    "an account ID against another account's root",
    keyPolicy({ Principal: { AWS: "111122223333" } }),
    keyPolicy({ Principal: { AWS: "arn:aws:iam::444455556666:root" } }),
    false,
  ],
  [
    "a principal type against another",
    keyPolicy({ Principal: { AWS: "*" } }),
    keyPolicy({ Principal: { Service: "*" } }),
    false,
  ],
  ["text that is not JSON, the same", "not json", "not json", true],
  ["text that is not JSON, different", "not json", "{}", false],
];

describe("policy equivalence (as IAM compares policies)", () => {
  for (const [name, declared, returned, equivalent] of rows) {
    it(`${equivalent ? "same" : "different"}: ${name}`, () => {
      expect(policiesEquivalent(declared, returned)).to.equal(equivalent);
      expect(policiesEquivalent(returned, declared), "symmetric").to.equal(equivalent);
    });
  }
});
