// Package security is Riak's security model over the cluster metadata:
// users, groups, sources and grants, the enable flag, authentication and
// authorisation, and riak-admin's security verbs with riak-admin's
// output.
//
// Everything lives in the cluster metadata (internal/metadata), under the
// prefixes security_users, security_groups, security_sources,
// security_usergrants, security_groupgrants and security_status, so that a
// change made on one node holds on every node. Values are JSON. A Service
// keeps a parsed snapshot of them, rebuilt after any change reaches the
// node (metadata.Store.Subscribe).
//
// Authentication follows riak_core_security: the user must exist; the
// first source matching the user (or "all") and the peer's address, most
// specific CIDR first, decides how: trust, password (checked against an
// Argon2id hash) or certificate (the TLS client certificate's common name
// must be the user name). Authorisation merges the grants of the user, of
// the groups it belongs to (transitively) and of "all", on the exact
// bucket, on its bucket type and on "any". The HTTP and Protocol Buffers
// faces see it through internal/riakapi's Security interface; the admin
// routes call Service.Command with riak-admin's arguments.
//
// Password hashing uses Argon2id (golang.org/x/crypto/argon2), a
// memory-hard function: a stolen copy of the metadata does not make
// guessing cheap on GPUs. Each check costs tens of milliseconds and
// ~19 MiB, so checks are bounded in number at once, and a successful one
// is remembered (keyed by an HMAC of the password under a per-process key)
// until the user changes.
package security
