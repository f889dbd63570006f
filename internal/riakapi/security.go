package riakapi

import (
	"context"
	"net/netip"
)

// Security is the security model as the client faces see it
// (internal/security implements it; the node wiring passes it to both).
// Methods are safe for concurrent use.
type Security interface {
	// Enabled reports whether security is on, cluster-wide.
	Enabled() bool
	// Authenticate checks a user's credentials for a client at peer;
	// commonName is the verified TLS client certificate's (empty without
	// one). The error says why for logs; clients are only told that
	// authentication failed.
	Authenticate(ctx context.Context, user, password string, peer netip.Addr, commonName string) (Principal, error)
}

// Principal is an authenticated user.
type Principal interface {
	// Name is the user's name.
	Name() string
	// Check returns nil if the user holds perm on the bucket typ/bucket
	// (bucket empty: on the type; both empty: on any), else an error
	// whose text is Riak's ("Permission denied: User 'u' does not have
	// 'riak_kv.get' on default/b").
	Check(perm, typ, bucket string) error
	// Admin reports whether the user may run admin verbs.
	Admin() bool
}

// Riak's permissions, as the faces check them.
const (
	PermGet           = "riak_kv.get"
	PermGetPreflist   = "riak_kv.get_preflist"
	PermPut           = "riak_kv.put"
	PermDelete        = "riak_kv.delete"
	PermListKeys      = "riak_kv.list_keys"
	PermListBuckets   = "riak_kv.list_buckets"
	PermIndex         = "riak_kv.index"
	PermMapReduce     = "riak_kv.mapreduce"
	PermGetBucket     = "riak_core.get_bucket"
	PermSetBucket     = "riak_core.set_bucket"
	PermGetBucketType = "riak_core.get_bucket_type"
	PermSetBucketType = "riak_core.set_bucket_type"
	// PermAdmin is riakgo's: the admin verbs (granted on any).
	PermAdmin = "riakgo.admin"
)

// Texts both faces send, Riak's.
const (
	// MsgInsecure answers a request over plain HTTP when security is on
	// (HTTP 426).
	MsgInsecure = "Security is enabled and Riak does not accept credentials over HTTP. Try HTTPS instead."
	// MsgAuthFailed answers failed credentials.
	MsgAuthFailed = "Authentication failed"
)
