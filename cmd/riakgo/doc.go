// Command riakgo is the riakgo server and its tools: start runs a node,
// bench drives a basho_bench-style HTTP load, version prints the build.
package main
