#!/usr/bin/env bash
# Makes the throwaway test certificates that basho-riak-client's tests read
# at load time (testparams.js, test/unit/core/riaknode.js) from
# ./tools/test-ca, a git submodule of Basho's repository that the npm
# package and the test copy in ../shared do not have. Most tests only build
# client options from the files; the security tests (test/security) connect
# with them to a riakgo node that serves DIR/certs/node-cert.pem (for
# 127.0.0.1 and localhost), signed by the same throwaway CA.
#
# usage: riak-nodejs-certs.sh DIR    (makes DIR/certs and DIR/private)
set -euo pipefail
d=$1
mkdir -p "$d/certs" "$d/private"
cd "$d"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=riakgo test CA" \
  -keyout private/cakey.pem -out certs/cacert.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=riakuser" \
  -keyout private/riakuser-client-cert-key.pem -out private/riakuser.csr
openssl x509 -req -in private/riakuser.csr -CA certs/cacert.pem -CAkey private/cakey.pem \
  -CAcreateserial -days 2 -out certs/riakuser-client-cert.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=riakgo test node" \
  -keyout private/node-key.pem -out private/node.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >private/node.ext
openssl x509 -req -in private/node.csr -CA certs/cacert.pem -CAkey private/cakey.pem \
  -CAcreateserial -days 2 -extfile private/node.ext -out certs/node-cert.pem
openssl pkcs12 -export -passout pass: -inkey private/riakuser-client-cert-key.pem \
  -in certs/riakuser-client-cert.pem -certfile certs/cacert.pem -out certs/riakuser-client-cert.pfx
