// Package testcerts makes throwaway certificates for tests: a CA and
// leaf certificates it signs (server certificates for 127.0.0.1 and
// localhost, client certificates with a common name), in memory or as PEM
// files. Test helper only; product code never imports it.
package testcerts
