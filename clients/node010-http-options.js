'use strict';
// Preloaded (mocha --require) for the riak-js suite only; see
// docs/compatibility.md, "Client suites".
//
// riak-js 1.1.0 was written for Node 0.10 (its riakpbc dependency declares
// node ">= 0.10.0 < 0.12"). It passes its request-metadata object straight to
// http.request(), and that object defines `path` and `headers` as accessors
// on its prototype. Node 0.10 read request options by plain property access,
// so the accessors were honoured; Node 20 copies only the options object's
// own properties, so every riak-js request leaves as `METHOD /` with no
// headers at all (a PUT of an object becomes `PUT /`, a GET becomes `GET /`).
//
// This shim restores the Node 0.10 reading of the options object and nothing
// else: for the option names Node uses, a value inherited through the
// prototype is copied onto a plain object before Node sees it. It changes no
// test, no assertion and no riak-js code. run.sh loads it by default; set
// RIAKJS_NODE010_SHIM=0 to run riak-js without it.

const http = require('http');

const FIELDS = [
  'protocol', 'host', 'hostname', 'family', 'port', 'localAddress', 'socketPath',
  'method', 'path', 'headers', 'auth', 'agent', 'defaultPort', 'createConnection',
  'timeout', 'setHost',
];

function flatten(options) {
  if (!options || typeof options !== 'object' || options instanceof URL) return options;
  let flat = null;
  for (const name of FIELDS) {
    if (Object.prototype.hasOwnProperty.call(options, name)) continue;
    const value = options[name]; // read once: accessors may compute the value
    if (value === undefined) continue;
    if (!flat) flat = Object.assign({}, options);
    flat[name] = value;
  }
  return flat || options;
}

const request = http.request;
http.request = function (options, ...rest) {
  return request.call(this, flatten(options), ...rest);
};
const get = http.get;
http.get = function (options, ...rest) {
  return get.call(this, flatten(options), ...rest);
};
