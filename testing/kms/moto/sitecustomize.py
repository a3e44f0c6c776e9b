# Loaded by moto_server's Python at start (testing/kms/server.ts puts this folder on PYTHONPATH): a correction to
# moto 5.2.1 that the proxy in front of it cannot make, because it is in moto's memory, not in its answers.
#
# moto's ReplicateKey makes the replica with copy() of the primary key (moto/kms/models.py, replicate_key), so the
# replica shares the primary key's dict of aliases: an alias made on either key shows in both Regions, and the same
# alias name cannot be on the primary in one Region and on the replica in another (CreateAlias answers
# AlreadyExistsException). In KMS an alias lives in one Region and belongs to one key: the developer guide ("Multi-Region
# keys in AWS KMS") lists aliases among the properties each related multi-Region key has independently, and a new
# replica has none. Here the replica starts with aliases of its own.
try:
    from moto.kms.models import KmsBackend
except ImportError:  # not moto's Python: nothing to correct
    KmsBackend = None

if KmsBackend is not None and hasattr(KmsBackend, "replicate_key"):
    _replicate_key = KmsBackend.replicate_key

    def replicate_key(self, key_id, replica_region):
        replica = _replicate_key(self, key_id, replica_region)
        if replica.aliases is self.keys[replica.id].aliases:
            replica.aliases = {}
        return replica

    KmsBackend.replicate_key = replicate_key
